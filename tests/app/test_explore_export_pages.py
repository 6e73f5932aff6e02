"""Explore and Export pages on a finished run: scores, map, recut by the k slider, profiles, downloads."""

import pytest

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


def test_explore_without_runs(app):
    at = app("pages/explore.py")
    assert any("No finished run yet" in info.value for info in at.info)


def test_explore_shows_scores_profiles_and_recuts(app, finished_run):
    at = app("pages/explore.py")
    scores = at.dataframe[0].value
    assert scores["representation"].tolist() == ["baseline (k=3)"]
    assert {"Silhouette ↑", "NMI ↑", "ACC ↑"} <= set(scores.columns)
    assert scores["ACC ↑"].iloc[0] > 0.5
    profiles = at.dataframe[2].value
    assert len(profiles) == 3
    at.slider[0].set_value(5).run()
    assert not at.exception
    scores = at.dataframe[0].value
    assert scores["representation"].tolist() == ["baseline (k=5)", "baseline as run (k=3)"]
    assert len(at.dataframe[1].value) == 5  # cluster sizes follow the recut


def test_export_offers_safe_labels(app, finished_run):
    at = app("pages/export.py")
    assert not at.exception
    labels = at.get("download_button")
    assert len(labels) == 3


def test_explore_names_erasmo_baselines_and_draws_the_loss_curve(app, finished_run):
    from core.methods.erasmo import ERASMOMethod
    from core.storage import METRICS, RunDirectory

    directory = RunDirectory(finished_run.path)
    scores = directory.read_json(METRICS)
    scores["comparisons"] = {"lm_no_finetune": scores["metrics"]}
    scores["details"] = {"loss": {"step": [4.1, 3.2, 2.5], "epoch": [3.27]}, "comparison_titles": ERASMOMethod.comparison_titles}
    directory.write_json(METRICS, scores)
    at = app("pages/explore.py")
    assert not at.exception
    assert at.dataframe[0].value["representation"].tolist() == ["baseline (k=3)", "same LM without fine-tuning (k=3)"]
    assert "Fine-tuning loss" in [header.value for header in at.subheader]
    assert any("Mean loss per epoch: 3.270" in caption.value for caption in at.caption)
