"""Granularity page on a finished ClusterLLM run: the F-beta curve, the dendrogram, sizes, and a k picker that recuts."""
import json

import pytest

from core.embed.registry import resolve_embedder
from core.llm.review import granularity_curve
from core.runs.artifacts import load_artifacts
from tests.app.test_review_page import finished_clusterllm_run


@pytest.fixture(scope="module")
def minilm():
    return resolve_embedder("minilm")


@pytest.fixture
def finished_run(workspace, topic_texts, minilm):
    return finished_clusterllm_run(workspace, *topic_texts, minilm)


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_granularity_without_clusterllm_runs(app):
    at = app("pages/granularity.py")
    assert any("No finished ClusterLLM run" in info.value for info in at.info)


def test_curve_dendrogram_and_use_this_k(app, finished_run):
    run = load_artifacts(finished_run.path)
    details = run.scores["details"]
    curve = granularity_curve(details)
    predicted = details["k_predicted"]
    assert predicted == max(curve, key=curve.get)

    at = app("pages/granularity.py")
    picker = at.number_input(key=f"granularity-k-{finished_run.id}")
    assert picker.value == predicted == run.k == 3
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    figure = json.loads(charts[0].proto.spec)
    assert figure["data"][0]["x"] == list(curve) and figure["layout"]["shapes"][0]["x0"] == predicted
    assert metric(at, "F-β at this k") == f"{100 * curve[predicted]:.1f}"
    assert metric(at, "ACC") == "100.0"

    picker.set_value(6).run()
    assert not at.exception
    labels, scores = run.recut(6)
    assert metric(at, "F-β at this k") == f"{100 * curve[6]:.1f}"
    assert metric(at, "NMI") == f"{100 * scores['nmi']:.1f}"
    assert any("cut at k = 6" in c.value for c in at.caption)

    at.button(key="use-k").click().run()  # every page now follows the cut
    assert any("now the tree's cut at 6" in s.value for s in at.success)
    explore = app("pages/explore.py")
    listed = next(frame.value for frame in explore.dataframe if list(frame.value.columns)[:2] == ["id", "name"])
    assert len(listed) == 6 and listed["rows"].sum() == 60
