"""Average-link clustering of small groups at a distance threshold, and choosing that threshold on labelled groups."""
import numpy as np
import pytest

from core.cluster.threshold import choose_threshold, cluster_by_threshold, score_groups
from core.errors import SettingsError


def two_tight_pairs(angle: float) -> np.ndarray:
    """Two pairs of unit vectors: each pair `angle` radians apart, the pairs at right angles."""
    half = angle / 2
    return np.array([[np.cos(half), np.sin(half), 0], [np.cos(half), -np.sin(half), 0],
                     [0, np.sin(half), np.cos(half)], [0, -np.sin(half), np.cos(half)]])


def test_clusters_are_cut_at_the_threshold():
    X = two_tight_pairs(0.2)  # within a pair: cosine distance 1 - cos(0.2) ≈ 0.02; across: ≈ 1
    assert cluster_by_threshold(X, 0.5).tolist() == [0, 0, 1, 1]
    assert len(set(cluster_by_threshold(X, 0.01))) == 4
    assert len(set(cluster_by_threshold(X, 1.5))) == 1
    assert cluster_by_threshold(X[:1], 0.5).tolist() == [0]


def test_the_threshold_is_chosen_where_the_groups_are_best_recovered():
    groups = [two_tight_pairs(0.2), two_tight_pairs(0.6)]  # within-pair distances ≈ 0.02 and ≈ 0.17
    truths = [["a", "a", "b", "b"], ["x", "x", "y", "y"]]
    best, curve = choose_threshold(groups, truths, candidates=np.array([0.01, 0.1, 0.3, 0.9, 1.2]))
    assert best == 0.3  # the smallest threshold that joins every pair without joining the pairs
    assert curve[0.3] == pytest.approx(1.0) and curve[0.1] < 1.0 and curve[1.2] < 1.0


def test_scores_per_group_and_the_empty_case():
    scores = score_groups([np.array([0, 0, 1, 1]), np.array([0, 1, 2, 3])], [["a", "a", "b", "b"]] * 2)
    assert scores[0] == {"ami": pytest.approx(1.0), "ari": pytest.approx(1.0)}
    assert scores[1]["ari"] == pytest.approx(0.0)
    with pytest.raises(SettingsError, match="at least one labelled group"):
        choose_threshold([], [])
