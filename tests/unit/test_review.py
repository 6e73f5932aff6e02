"""The review queue's logic: flipping, embedding verdicts, filters, the cursor, retrain settings, the k curve."""
import numpy as np
import pytest

from core.errors import SettingsError
from core.llm import Answer, JudgmentStore
from core.llm.review import (cluster_sizes, disagrees, embedding_verdicts, flipped_choice, granularity_curve, item_at,
                             retrain_config, review_counts, review_queue)
from core.settings import RunConfig

TEXTS = ["card late", "card lost", "refund please", "refund now"]
# rows 0-1 and 2-3 are close; the run clustered them as {0, 1} and {2, 3}
EMBEDDINGS = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
LABELS = np.array([0, 0, 1, 1])


@pytest.fixture
def store(tmp_path):
    store = JudgmentStore(tmp_path / "catalogue.sqlite")
    store.record_many("run", "triplet", "judge", "v1", [
        (("card late", "card lost", "refund please"), Answer(1, "Choice 1"), False),   # embedding agrees
        (("card late", "card lost", "refund now"), Answer(2, "Choice 2"), False),      # embedding says 1
        (("refund now", "card late", "refund please"), Answer(None, "??"), False),     # judge undecided
    ])
    store.record_many("run", "pair", "judge", "v1", [
        (("card late", "card lost"), Answer(True, "Yes"), False),        # same cluster: agrees
        (("card late", "refund now"), Answer(True, "Yes"), False),       # different clusters: disagrees
        (("refund now", "something else"), Answer(False, "No"), False),  # text not in the run: no verdict
    ])
    return store


def test_flipped_choice(store):
    triplets, pairs = store.list("run", kind="triplet"), store.list("run", kind="pair")
    assert [flipped_choice(j) for j in triplets[:2]] == [2, 1]
    assert [flipped_choice(j) for j in pairs] == [False, False, True]
    with pytest.raises(SettingsError, match="nothing to flip"):
        flipped_choice(triplets[2])


def test_embedding_verdicts_and_disagreements(store):
    judgments = store.list("run")
    verdicts = embedding_verdicts(judgments, TEXTS, EMBEDDINGS, LABELS)
    assert [verdicts[j.id] for j in judgments] == [1, 1, 2, True, False, None]
    assert [disagrees(j, verdicts[j.id]) for j in judgments] == [False, True, False, False, True, False]


def test_embedding_verdicts_use_the_first_row_of_a_repeated_text(store):
    texts = TEXTS + ["card late"]
    embeddings = np.vstack([EMBEDDINGS, [[0.0, 1.0]]])
    judgments = store.list("run", kind="triplet")
    assert embedding_verdicts(judgments, texts, embeddings, np.array([0, 0, 1, 1, 1]))[judgments[0].id] == 1


def test_queue_filters_follow_the_person_answers(store):
    triplets = store.list("run", kind="triplet")
    verdicts = embedding_verdicts(triplets, TEXTS, EMBEDDINGS, LABELS)
    assert len(review_queue(store, "run", "triplet", "all")) == 3
    assert [j.id for j in review_queue(store, "run", "triplet", "disagreements", verdicts)] == [triplets[1].id]
    store.set_person_answer(triplets[0].id, 1)           # accepted
    store.set_person_answer(triplets[1].id, flipped_choice(triplets[1]))  # flipped
    assert [j.id for j in review_queue(store, "run", "triplet", "unreviewed")] == [triplets[2].id]
    assert [j.id for j in review_queue(store, "run", "triplet", "flipped")] == [triplets[1].id]
    assert review_counts(store, "run", "triplet") == {"total": 3, "reviewed": 2, "flipped": 1, "agreement": 0.5}
    assert review_counts(store, "run", "pair")["agreement"] is None
    with pytest.raises(SettingsError):
        review_queue(store, "run", "triplet", "disagreements")
    with pytest.raises(SettingsError):
        review_queue(store, "run", "triplet", "newest")


def test_cursor_advances_and_wraps(store):
    queue = store.list("run", kind="triplet")
    first, second, third = queue
    assert item_at([], 5) is None
    assert item_at(queue, None) == first
    assert item_at(queue, first.id + 1) == second
    assert item_at(queue, third.id + 1) == first  # past the end: back to the start
    # under "unreviewed" the answered question leaves the queue; the cursor still lands on the next one
    store.set_person_answer(second.id, 2)
    assert item_at(review_queue(store, "run", "triplet", "unreviewed"), second.id + 1).id == third.id


def test_retrain_config_keeps_everything_but_turns_on_reviewed_answers():
    config = RunConfig(method="clusterllm", dataset="d", kind="text", roles={"text": "text"},
                       method_settings={"judge": "oracle", "n_triplets": 30})
    again = retrain_config(config)
    assert again.method_settings == {"judge": "oracle", "n_triplets": 30, "reviewed_answers": True}
    assert config.method_settings == {"judge": "oracle", "n_triplets": 30}
    assert again.clustering == config.clustering and again.roles == config.roles
    with pytest.raises(SettingsError, match="Only ClusterLLM"):
        retrain_config(RunConfig(method="baseline", dataset="d", kind="text", roles={}))


def test_granularity_curve_and_sizes():
    assert granularity_curve({"k_curve": {"10": 0.1, "2": 0.5, "3": 0.9}}) == {2: 0.5, 3: 0.9, 10: 0.1}
    assert granularity_curve({"k_curve": {}}) == {} and granularity_curve({}) == {}
    assert cluster_sizes(np.array([2, 0, 2, 1, 2, 0])) == {2: 3, 0: 2, 1: 1}
    assert list(cluster_sizes(np.array([2, 0, 2, 1, 2, 0]))) == [2, 0, 1]
