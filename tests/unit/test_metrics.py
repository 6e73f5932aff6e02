"""Scores against small cases computed by hand."""
import math

import numpy as np
import pytest

from core import metrics
from core.metrics import (EXTERNAL_METRICS, HIGHER_IS_BETTER, INTERNAL_METRICS, ami, ari, calinski_harabasz,
                          clustering_accuracy, davies_bouldin, mean_std, nmi, score_clustering, silhouette)


def test_accuracy_uses_the_best_one_to_one_mapping():
    # classes 0,1 map to clusters 1,0; class 2 is split between clusters 0 and 2 -> 5 of 6 right.
    assert clustering_accuracy([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 0, 2]) == pytest.approx(5 / 6)


def test_accuracy_is_invariant_to_renaming_clusters():
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([2, 2, 0, 0, 1, 1, 0])
    renamed = np.array([7, 3, 5])[y_pred]
    assert clustering_accuracy(y_true, renamed) == clustering_accuracy(y_true, y_pred) == pytest.approx(6 / 7)
    assert clustering_accuracy(y_true, np.array([9, 8, 4])[y_true]) == 1.0


def test_accuracy_with_more_or_fewer_clusters_than_classes():
    # 4 clusters, 2 classes: only two clusters can be matched (2 + 2 of 6 points).
    assert clustering_accuracy([0, 0, 0, 1, 1, 1], [0, 0, 1, 2, 2, 3]) == pytest.approx(4 / 6)
    # 2 clusters, 3 classes: one class is left unmatched.
    assert clustering_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 1, 1]) == pytest.approx(4 / 6)


def test_accuracy_and_agreement_scores_take_string_labels():
    assert clustering_accuracy(["a", "a", "b", "b"], ["x", "x", "x", "y"]) == pytest.approx(3 / 4)
    assert ari(["a", "a", "b"], [1, 1, 0]) == pytest.approx(1.0)


def test_agreement_scores_on_identical_and_independent_partitions():
    same = ([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 4, 4])
    assert ari(*same) == pytest.approx(1.0)
    assert nmi(*same) == pytest.approx(1.0)
    assert ami(*same) == pytest.approx(1.0)
    # Crossed 2x2 partition: ARI = (0 - 2/3) / (2 - 2/3) = -0.5 and no shared information.
    assert ari([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)
    assert nmi([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.0)


def test_silhouette_hand_computed():
    X = np.array([[0.0], [1.0], [10.0], [11.0]])
    # Point 0: a=1, b=10.5; point 1: a=1, b=9.5; the other two mirror them.
    expected = ((1 - 1 / 10.5) + (1 - 1 / 9.5)) / 2
    assert silhouette(X, np.array([0, 0, 1, 1])) == pytest.approx(expected)


def test_internal_scores_hand_computed():
    X = np.array([[0.0], [2.0], [10.0], [12.0]])
    labels = np.array([0, 0, 1, 1])
    # Between-cluster dispersion 2*25 + 2*25 = 100 over 1, within 4 over 2 -> 50.
    assert calinski_harabasz(X, labels) == pytest.approx(50.0)
    # Each cluster has mean distance 1 to its centre; centres are 10 apart -> (1 + 1) / 10.
    assert davies_bouldin(X, labels) == pytest.approx(0.2)


@pytest.mark.parametrize("score", [silhouette, calinski_harabasz, davies_bouldin])
def test_internal_scores_are_nan_when_undefined(score):
    X = np.arange(8.0).reshape(4, 2)
    assert math.isnan(score(X, np.zeros(4, dtype=int)))
    assert math.isnan(score(X, np.arange(4)))
    assert math.isnan(score(X, np.array([0, 0, -1, -1])))  # one cluster once noise is left out


@pytest.mark.parametrize("score", [silhouette, calinski_harabasz, davies_bouldin])
def test_noise_is_left_out_of_internal_scores(score):
    X = np.array([[0.0], [1.0], [10.0], [11.0], [500.0]])
    with_noise = score(X, np.array([0, 0, 1, 1, -1]))
    assert with_noise == pytest.approx(score(X[:4], np.array([0, 0, 1, 1])))


def test_silhouette_samples_large_data(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    labels = (X[:, 0] > 0).astype(int)
    monkeypatch.setattr(metrics, "SILHOUETTE_SAMPLE", 100)
    sampled = silhouette(X, labels)
    assert sampled == silhouette(X, labels, sample_size=100, seed=0)
    assert sampled != silhouette(X, labels, sample_size=300)


def test_score_clustering_keys_and_noise_as_one_more_cluster():
    X = np.array([[0.0], [1.0], [10.0], [11.0], [50.0], [52.0]])
    labels = np.array([0, 0, 1, 1, -1, -1])
    internal = score_clustering(X, labels)
    assert set(internal) == set(INTERNAL_METRICS)
    assert internal["silhouette"] == pytest.approx(silhouette(X[:4], labels[:4]))
    scores = score_clustering(X, labels, y_true=np.array(["a", "a", "b", "b", "c", "c"]))
    assert set(scores) == set(INTERNAL_METRICS) | set(EXTERNAL_METRICS)
    assert scores["acc"] == scores["ari"] == pytest.approx(1.0)


def test_mean_std_uses_population_std_and_skips_nan():
    runs = [{"acc": 0.5, "nmi": math.nan}, {"acc": 0.7, "nmi": 0.4}]
    summary = mean_std(runs)
    assert summary["acc"] == pytest.approx((0.6, 0.1))
    assert summary["nmi"] == pytest.approx((0.4, 0.0))
    assert mean_std(runs, scale=100.0)["acc"] == pytest.approx((60.0, 10.0))
    assert all(math.isnan(value) for value in mean_std([{"ari": math.nan}])["ari"])


def test_direction_of_every_score_is_known():
    assert set(HIGHER_IS_BETTER) == set(INTERNAL_METRICS) | set(EXTERNAL_METRICS)
    assert HIGHER_IS_BETTER["davies_bouldin"] is False
    assert HIGHER_IS_BETTER["silhouette"] is True
