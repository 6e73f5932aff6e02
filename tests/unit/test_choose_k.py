"""Whose k a run uses: the analyst's, the method's inside the analyst's range, or the silhouette's, and why."""
import json
import subprocess
import sys
from pathlib import Path

from core.pipeline import choose_k
from core.settings import ClusteringSettings

REPO = Path(__file__).resolve().parents[2]


def test_the_analysts_k_wins():
    choice = choose_k(ClusteringSettings(n_clusters=7), 300, method_k=101)
    assert (choice.k, choice.source, choice.method_k) == (7, "setting", 101)


def test_a_methods_k_inside_the_range_is_kept():
    choice = choose_k(ClusteringSettings(k_min=2, k_max=20), 300, method_k=12)
    assert (choice.k, choice.source, choice.note) == (12, "method", "")


def test_a_methods_k_outside_the_range_gives_way_and_says_why():
    scores = {5: 0.5, 10: 0.8, 19: 0.7, 101: 0.9}
    choice = choose_k(ClusteringSettings(k_min=2, k_max=20), 300, method_k=101, method_scores=scores,
                      method_label="ClusterLLM")
    assert (choice.k, choice.source) == (10, "method")
    assert "ClusterLLM preferred k = 101, outside the range 2-20" in choice.note
    without_scores = choose_k(ClusteringSettings(k_min=2, k_max=20), 300, method_k=101)
    assert (without_scores.k, without_scores.source) == (None, "silhouette") and "silhouette" in without_scores.note


def test_no_k_given_means_the_default_range_bounds_the_method_too():
    choice = choose_k(ClusteringSettings(), 300, method_k=101, method_scores={8: 0.5, 101: 0.9})
    assert choice.k_range == (2, 20) and choice.k == 8


def test_clusterllm_on_the_support_sample_lands_in_the_default_range(tmp_path):
    """The issue's check: 300 support messages in 10 topics, small settings, no k given: between 5 and 20."""
    sample = tmp_path / "support.csv"
    from core.data.samples import load_sample

    load_sample("support_requests").frame.to_csv(sample, index=False)
    result = subprocess.run(
        [sys.executable, "-m", "core", "cluster", str(sample), "--text-column", "text", "--label-column", "topic",
         "--method", "clusterllm", "--set", "n_triplets=64", "--set", "iterations=1", "--set", "epochs=1",
         "--out", str(tmp_path / "run")], cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert 5 <= summary["k"] <= 20, summary
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["k_range"] == [2, 20] and metrics["k_source"] in ("method", "silhouette")
    assert metrics["k_silhouette"] is not None
