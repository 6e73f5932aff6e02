"""Explore and Export pages on a finished run: named clusters, 0-100 scores, edits that stick (rename, merge, split,
move, undo, recut), and exports that follow the current clusters."""

import pytest

from core.curation import Curation, named_labels_frame
from core.data.samples import load_sample
from core.runs import create_run, execute_run
from core.settings import ClusteringSettings, RunConfig
from pages.common import run_store


@pytest.fixture
def finished_run(workspace, fake_embedder):
    """A finished baseline run on the penguins table, made through the library (the Run page has its own test)."""
    data = load_sample("penguins")
    config = RunConfig(method="baseline", dataset=data.name, kind=data.kind, roles=data.roles,
                       clustering=ClusteringSettings(n_clusters=3))
    record = create_run(run_store(), config, data.frame, owner=workspace)
    summary = execute_run(config, record.path, embedders=lambda name: fake_embedder)
    run_store().update(record.id, status="done", summary=summary)
    return record


def cluster_table(at):
    """The Explore page's cluster list (id, name, rows, share)."""
    return next(frame.value for frame in at.dataframe if list(frame.value.columns)[:3] == ["id", "name", "rows"])


def test_explore_without_runs(app):
    at = app("pages/explore.py")
    assert any("No finished run yet" in info.value for info in at.info)


def test_explore_shows_named_clusters_and_scores_on_a_0_to_100_scale(app, finished_run):
    at = app("pages/explore.py")
    assert not at.exception
    acc = next(metric for metric in at.metric if metric.label == "ACC")
    assert 50 < float(acc.value) <= 100 and "matched to one known class" in acc.help
    table = cluster_table(at)
    assert len(table) == 3 and table["rows"].sum() == 344
    assert table["name"].str.len().min() > 0 and table["name"].nunique() == 3  # named, no two alike
    scores = at.dataframe[0].value
    assert scores["clustering"].tolist()[0] == "your current clusters" and scores["ACC"].iloc[0] > 50


def test_edits_stick_undo_and_survive_a_reload(app, finished_run):
    at = app("pages/explore.py")
    first, second = cluster_table(at)["id"].tolist()[:2]
    cluster_picker(at, finished_run).set_value([first]).run()
    at.text_input(key=f"name-{finished_run.id}-{first}").input("Big birds")
    at.button(key="rename").click().run()
    assert not at.exception and "Big birds" in cluster_table(at)["name"].tolist()

    cluster_picker(at, finished_run).set_value([first, second]).run()
    at.button(key="merge").click().run()
    assert len(cluster_table(at)) == 2
    at.button(key="undo").click().run()
    assert len(cluster_table(at)) == 3

    cluster_picker(at, finished_run).set_value([second]).run()
    at.number_input(key="split-k").set_value(2)
    at.button(key="split").click().run()
    assert len(cluster_table(at)) == 4

    at.text_input(key=f"edit-rows-{finished_run.id}").input("0-4").run()
    at.selectbox(key="move-to").set_value("new")
    at.button(key="move").click().run()
    assert not at.exception and len(cluster_table(at)) == 5

    reloaded = app("pages/explore.py")  # a new session on the same project: the edits are in SQLite
    table = cluster_table(reloaded)
    assert len(table) == 5 and "Big birds" in table["name"].tolist()
    exported = named_labels_frame(Curation(finished_run.path))
    assert "Big birds" in set(exported["name"]) and exported["version"].iloc[0] == 4
    assert exported["cluster"].nunique() == 5 and exported["original_cluster"].nunique() == 3


def test_start_over_from_a_cut_says_what_it_discards(app, finished_run):
    at = app("pages/explore.py")
    at.number_input(key=f"cut-{finished_run.id}").set_value(5).run()
    assert any("Starting over from the tree cut at 5 clusters" in caption.value for caption in at.caption)
    at.button(key="recut").click().run()
    assert not at.exception and len(cluster_table(at)) == 5


def test_export_offers_named_labels_and_a_map(app, finished_run):
    at = app("pages/export.py")
    assert not at.exception
    assert [button.label for button in at.get("download_button")] == [
        "Labels with names (CSV)", "Map to share (HTML)", "Embeddings (.npy)", "Run settings and scores (JSON)"]
    assert any("edit version 0" in caption.value for caption in at.caption)


def test_explore_names_erasmo_baselines_and_draws_the_loss_curve(app, finished_run):
    from core.methods.erasmo import ERASMOMethod
    from core.storage import METRICS, RunDirectory

    directory = RunDirectory(finished_run.path)
    scores = directory.read_json(METRICS)
    scores["comparisons"] = {"lm_no_finetune": scores["metrics"]}
    scores["comparison_titles"] = ERASMOMethod.comparison_titles
    scores["details"] = {"loss": {"step": [4.1, 3.2, 2.5], "epoch": [3.27]}}
    directory.write_json(METRICS, scores)
    at = app("pages/explore.py")
    assert not at.exception
    assert at.dataframe[0].value["clustering"].tolist() == ["your current clusters",
                                                             "same LM without fine-tuning (same k as the run)"]
    assert any("Mean loss per epoch: 3.270" in caption.value for caption in at.caption)


def cluster_picker(at, run):
    """Explore's cluster picker (drawn anew after every edit, so its key carries a generation)."""
    return next(widget for widget in at.multiselect if widget.key.startswith(f"edit-clusters-{run.id}-"))
