"""Curation: edits that stick (undo, redo, stable ids), names a regeneration never overwrites, triplets from edits,
assignment of new rows with "new", and exports that open offline."""
import shutil
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from core.curation import (ClusterName, Curation, EditError, EditLog, MarkOutliers, Merge, Move, Recut, Rename, Split,
                           distinct_names, match_ids)
from core.curation.analyst import SimulatedAnalyst
from core.curation.assign import assign_rows
from core.curation.export import html_map, named_labels_frame
from core.curation.learn import EditTriplets
from core.curation.names import ProfileNamer, compose_name, near_duplicates
from core.runs import RunDirectory, execute_run, prepare_run
from core.settings import ClusteringSettings, RunConfig
from tests.unit.test_clusterllm import tiny_model_dir as tiny_model_dir  # noqa: F401  (a fixture)


class FirstWordNamer:
    """A fast namer for tests: the most common first word of the cluster's texts, and a counter of calls."""

    key = "first-word-v1"

    def __init__(self) -> None:
        self.named: list[tuple[int, ...]] = []

    def name_clusters(self, request):
        self.named.append(request.clusters)
        texts = request.data.texts()
        found = {}
        for cluster in request.clusters:
            words = pd.Series([texts[r].split()[1] for r in np.flatnonzero(request.labels == cluster)])
            found[cluster] = ClusterName(f"About {words.mode()[0]}", "test", ("extra", "more"))
        return found


@pytest.fixture(scope="module")
def built_run(tmp_path_factory, topic_texts_module):
    """One small finished run (3 topics, fake embedder) per module; each test gets its own copy."""
    from tests.conftest import BagOfWordsEmbedder

    texts, labels = topic_texts_module
    config = RunConfig(method="baseline", dataset="topics", kind="text", roles={"text": "text", "topic": "label"},
                       clustering=ClusteringSettings(n_clusters=3, reduce="none"))
    folder = tmp_path_factory.mktemp("curation") / "run"
    prepare_run(RunDirectory(folder), config, pd.DataFrame({"text": texts, "topic": labels}))
    execute_run(config, folder, embedders=lambda name: BagOfWordsEmbedder())
    return folder


@pytest.fixture(scope="module")
def topic_texts_module():
    from tests.conftest import topic_texts

    return topic_texts.__wrapped__()


@pytest.fixture
def run_dir(built_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(built_run, folder)
    return folder


@pytest.fixture
def curation(run_dir, tmp_path, fake_embedder):
    return Curation(run_dir, log=EditLog(tmp_path / "catalogue.sqlite"), namer=FirstWordNamer(),
                    embedder=fake_embedder)


def test_edits_replay_over_the_original_and_undo_redo(curation):
    original = curation.original()
    curation.apply(Merge((0, 1)))
    merged = curation.labels()
    assert set(np.unique(merged)) == {0, 2} and (merged[original == 1] == 0).all()
    curation.undo()
    np.testing.assert_array_equal(curation.labels(), original)
    curation.redo()
    np.testing.assert_array_equal(curation.labels(), merged)
    curation.undo()
    curation.apply(MarkOutliers((0, 1)))  # a new edit ends the redo history
    with pytest.raises(EditError, match="no undone edit"):
        curation.redo()
    assert curation.current().clusters[-1].id == -1 and curation.current().version == 2  # seq of the last edit
    np.testing.assert_array_equal(curation.original(), original)  # the original clustering stays available


def test_scores_follow_the_current_labels_through_edits_and_undo(curation):
    from core.metrics import score_clustering

    before = curation.scores()
    assert before == curation.artifacts.scores["metrics"]  # the run's own labels: the scores it stored
    assert before == pytest.approx(score_clustering(curation.artifacts.space, curation.original(),
                                                    curation.artifacts.truth), rel=1e-4)
    curation.apply(Merge((0, 1)))
    merged = curation.scores()
    assert merged == score_clustering(curation.artifacts.space, curation.labels(), curation.artifacts.truth)
    assert merged != before
    curation.undo()
    assert curation.scores() == before


def test_edits_survive_a_new_session(curation, run_dir, fake_embedder):
    curation.apply(Rename(2, "Passwords"))
    curation.apply(Move((0, 1), "new"))
    again = Curation(run_dir, log=EditLog(curation.log.path), namer=FirstWordNamer(), embedder=fake_embedder)
    np.testing.assert_array_equal(again.labels(), curation.labels())
    assert again.current().names()[2] == "Passwords"


def test_split_and_move_make_fresh_ids(curation):
    before = curation.labels()
    curation.apply(Split(0, k=2))
    after = curation.labels()
    assert len(np.unique(after)) == 4 and after.max() == 3
    curation.undo()
    curation.apply(Move((5,), "new"))
    assert curation.labels()[5] == 4  # ids are never reused, even after an undo
    np.testing.assert_array_equal(np.delete(curation.labels(), 5), np.delete(before, 5))


def test_bad_edits_say_what_to_do(curation):
    with pytest.raises(EditError, match="no cluster 9"):
        curation.apply(Merge((0, 9)))
    with pytest.raises(EditError, match="at least two"):
        curation.apply(Merge((1, 1)))
    with pytest.raises(EditError, match="not a row"):
        curation.apply(Move((999,), 0))
    curation.apply(Rename(0, "Cards"))
    with pytest.raises(EditError, match="already called"):
        curation.apply(Rename(1, "cards"))
    with pytest.raises(EditError, match="nothing to undo|no edit to undo"):
        Curation(curation.run_dir, log=EditLog(curation.log.path.with_name("other.sqlite"))).undo()


def test_a_persons_name_is_never_overwritten_and_only_touched_clusters_are_renamed(curation):
    namer = curation.namer
    first = curation.current().names()
    assert len(set(first.values())) == 3 and namer.named == [(0, 1, 2)]
    curation.apply(Rename(0, "My cards"))
    curation.apply(Move((int(np.flatnonzero(curation.labels() == 1)[0]),), 0))  # touches clusters 0 and 1
    names = curation.current().names()
    assert names[0] == "My cards" and names[2] == first[2]
    assert namer.named[-1] == (1,)  # only the touched, unnamed cluster was named again
    named_by = {c.id: c.named_by for c in curation.current().clusters}
    assert named_by[0] == "person" and named_by[2] == namer.key


def test_names_are_distinct_and_near_duplicates_told_apart():
    proposed = {1: ClusterName("Card delivery", "", ("tracking",)), 2: ClusterName("Delivery cards", "",
                                                                                 ("late", "tracking")),
                3: ClusterName("Card delivery", "", ())}
    names = distinct_names(proposed, {0: "Refunds"})
    assert names[1] == "Card delivery" and names[2] == "Delivery cards (late)"
    assert names[3] == "Card delivery #2"
    assert near_duplicates("Card delivery", "delivery of cards") and not near_duplicates("Card delivery", "Card refund")
    assert compose_name(["card", "card delivery", "late"]) == "Card delivery"
    assert compose_name(["refund", "order"]) == "Refund, order"


def test_keyword_names_for_texts(run_dir, tmp_path, fake_embedder):
    state = Curation(run_dir, log=EditLog(tmp_path / "names.sqlite"), embedder=fake_embedder).current()
    names = list(state.names().values())
    assert len(set(names)) == 3 and all(2 <= len(name.replace(",", " ").split()) <= 5 for name in names)
    assert all(cluster.description and len(cluster.examples) == 3 for cluster in state.clusters)
    joined = " ".join(names).lower()
    assert "card" in joined and "refund" in joined and "password" in joined


def test_table_names_come_from_the_columns_that_set_a_cluster_apart():
    from core.curation.names import NamingRequest
    from core.data.dataset import Dataset

    frame = pd.DataFrame({"island": ["Biscoe"] * 10 + ["Dream"] * 10,
                          "body_mass_g": [5000 + i for i in range(10)] + [3500 + i for i in range(10)],
                          "flipper_length_mm": [220] * 10 + [190] * 10})
    data = Dataset(frame, "table", {"island": "categorical", "body_mass_g": "numeric", "flipper_length_mm": "numeric"})
    labels = np.array([0] * 10 + [1] * 10)
    names = ProfileNamer().name_clusters(NamingRequest(data, labels, np.zeros((20, 2)), (0, 1)))
    assert names[0].name.startswith("Biscoe, ") and set(names[0].name.split(", ")) == {"Biscoe", "heavy body",
                                                                                       "long flipper"}
    assert set(names[1].name.split(", ")) == {"Dream", "light body", "short flipper"}


def test_recut_keeps_the_ids_and_names_of_corresponding_clusters(curation):
    k = len(np.unique(curation.original()))
    tree_labels = curation.artifacts.tree.cut(k)
    curation.apply(Rename(1, "Refunds"))
    curation.apply(Merge((0, 2)))
    preview = curation.recut_preview(k)
    assert preview.edits_discarded == 1 and "Undo brings everything back" in preview.message
    curation.apply(Recut(k))
    labels = curation.labels()
    assert len(np.unique(labels)) == k
    np.testing.assert_array_equal(match_ids(labels, tree_labels, 99), labels)  # the same partition as the tree's
    assert curation.current().names().get(1) == "Refunds" or "Refunds" in preview.names_discarded.values()
    curation.undo()
    assert len(np.unique(curation.labels())) == 2


def test_match_ids_follows_overlap_and_gives_new_clusters_fresh_ids():
    old = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    new = np.array([5, 5, 5, 5, 6, 6, 6, 6, 7, 7])  # 1 grew, 2 split in two
    assert match_ids(old, new, 10).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert match_ids(old, np.array([1] * 10), 10).tolist() == [0] * 10


def test_edits_become_triplets_consistent_with_the_final_labels(curation):
    labels = curation.labels()
    moved = tuple(int(r) for r in np.flatnonzero(labels == 1)[:3])
    curation.apply(Move(moved, 0))
    curation.apply(Merge((0, 2)))
    final = curation.labels()
    found = EditTriplets(per_row=2, per_cluster_edit=8).fit(curation.original(), curation.records(),
                                                            curation.artifacts.embeddings)
    triplets = found.triplets_
    assert len(triplets) > 0 and {"move", "merge"} <= set(found.sources_)
    assert (final[triplets[:, 0]] == final[triplets[:, 1]]).all()
    assert (final[triplets[:, 0]] != final[triplets[:, 2]]).all()
    assert set(triplets[np.array(found.sources_) == "move", 0]) == set(moved)


def test_simulated_analyst_fixes_the_largest_problems():
    truth = np.array(["a"] * 10 + ["b"] * 10 + ["c"] * 6)
    labels = np.array([0] * 10 + [1] * 6 + [2] * 4 + [0] * 6)  # b split over 1 and 2; c inside 0
    analyst = SimulatedAnalyst(truth, seed=0, top=1)
    edit = analyst.next_edit(labels)
    assert edit == Split(0, k=2)  # c is 6 of cluster 0's 16 rows and no cluster's theme: a second large group
    labels[20:] = 3
    assert analyst.next_edit(labels) == Merge((1, 2))
    labels[16:20] = 1
    labels[20:23] = 0  # a few c rows left behind in cluster 0: moved to the cluster about c
    assert analyst.next_edit(labels) == Move((20, 21, 22), 3)


def test_assign_sorts_known_rows_and_flags_unseen_ones(curation, topic_texts):
    texts, truth = topic_texts
    frame = pd.DataFrame({"text": [texts[0], texts[5], "zebra giraffe safari elephant lion"], "note": ["=1+1", "", ""]})
    out = assign_rows(curation, frame)
    assert list(out.columns[:5]) == ["row", "cluster", "name", "confidence", "new"]
    labels = curation.labels()
    assert out["cluster"].tolist()[:2] == [labels[0], labels[5]]
    assert out["new"].tolist() == [False, False, True]
    assert (out["confidence"].between(0, 1)).all() and out["note"][0] == "=1+1"


def test_labels_export_and_html_map_open_offline(curation):
    curation.apply(Rename(0, "Cards"))
    frame = named_labels_frame(curation)
    assert list(frame.columns[:5]) == ["row", "cluster", "name", "original_cluster", "version"]
    assert (frame["name"][frame["cluster"] == 0] == "Cards").all() and (frame["version"] == 1).all()
    page = html_map(curation)

    class Links(HTMLParser):
        found: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.found += [value for name, value in attrs if name in ("src", "href") and value]

    parser = Links()
    parser.feed(page)
    assert not [link for link in parser.found if link.startswith(("http", "//"))]
    assert "cdn." not in page.split("<script", 1)[0] and 'id="search"' in page and "Cards" in page
    assert "Plotly.restyle" in page and len(page) > 1_000_000  # plotly.js is inline


def test_retrain_from_edits_writes_a_run_that_keeps_names_and_placed_rows(tiny_model_dir, topic_texts, tmp_path):
    from core.curation.retrain import retrain_run
    from core.embed.cache import EmbeddingCache
    from core.embed.registry import resolve_embedder
    from core.llm.store import JudgmentStore
    from core.runs.artifacts import load_artifacts

    texts, labels = topic_texts
    config = RunConfig(method="baseline", dataset="topics", kind="text", roles={"text": "text", "topic": "label"},
                       method_settings={"embedder": str(tiny_model_dir)},
                       clustering=ClusteringSettings(n_clusters=3, reduce="none"))
    folder = tmp_path / "run"
    prepare_run(RunDirectory(folder), config, pd.DataFrame({"text": texts, "topic": labels}))
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    execute_run(config, folder, embedders=lambda spec: resolve_embedder(spec, cache=cache))
    log = EditLog(tmp_path / "catalogue.sqlite")
    curation = Curation(folder, log=log, namer=FirstWordNamer(),
                        embedders=lambda spec: resolve_embedder(spec, cache=cache))
    current = curation.labels()
    curation.apply(Rename(int(current[0]), "Cards"))
    moved = int(np.flatnonzero(current != current[0])[0])
    curation.apply(Move((moved,), int(current[0])))
    curation.apply(Split(int(current[20]), k=2))
    store = JudgmentStore(log.path)
    store.record(folder.name, "triplet", "oracle", "v", (texts[0], texts[15], texts[1]), _answer(1))
    store.set_person_answer(store.list(folder.name)[0].id, 2)

    out = retrain_run(curation, tmp_path / "retrained", epochs=1, judgments=store)
    assert (out.path / "finetuned-model" / "modules.json").exists()
    run = load_artifacts(out.path)
    details = run.scores["details"]
    assert details["triplets"]["reviewed"] == 1 and details["triplets"]["edits"] > 0
    assert run.labels[moved] == current[0]  # the row the person moved stays where they put it
    retrained = Curation(out.path, log=log, namer=FirstWordNamer())
    assert retrained.embedder_spec() == str(out.path / "finetuned-model")
    assert retrained.current().names()[int(current[0])] == "Cards"


def _answer(choice):
    from core.llm.judges import Answer

    return Answer(choice, "test")
