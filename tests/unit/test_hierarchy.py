"""ClusterTree: exact cuts, nested cuts, merge steps that agree with the cuts, and the large-data path."""
import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from core.cluster import ClusterTree
from core.cluster.hierarchy import weighted_linkage
from core.errors import SettingsError


@pytest.fixture(scope="module")
def tree() -> ClusterTree:
    X = np.random.default_rng(3).normal(size=(40, 3))
    return ClusterTree().fit(X)


@pytest.fixture(scope="module")
def big() -> tuple[ClusterTree, np.ndarray]:
    X, y = make_blobs(n_samples=3000, centers=[[0, 0], [20, 0], [0, 20], [20, 20]], cluster_std=1.5, random_state=5)
    return ClusterTree(max_leaves=50, seed=1).fit(X), y


def as_groups(labels: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(labels == label).tolist()) for label in np.unique(labels)}


@pytest.mark.parametrize("method", ["ward", "average", "complete"])
def test_unit_weights_give_scipys_linkage(method):
    points = np.random.default_rng(0).normal(size=(30, 4))
    assert np.allclose(weighted_linkage(points, np.ones(30), method), linkage(points, method))


def test_weighted_ward_equals_ward_over_the_points_the_leaves_stand_for():
    centres = np.random.default_rng(1).normal(size=(8, 2))
    weights = np.array([1, 5, 2, 9, 3, 1, 4, 2])
    over_points = linkage(np.repeat(centres, weights, axis=0), "ward")
    # Merging copies of one point costs nothing; the remaining 7 merges are those between the weighted leaves.
    assert np.allclose(weighted_linkage(centres, weights, "ward")[:, 2], over_points[-7:, 2])


def test_hand_made_line():
    points = np.array([[0.0], [1.0], [5.0], [7.0], [20.0]])
    line = ClusterTree(linkage="complete").fit(points)
    assert list(line.linkage_[:, 2]) == [1.0, 2.0, 7.0, 20.0]
    assert list(line.cut(2)) == [0, 0, 0, 0, 1]
    assert as_groups(line.cut(3)) == {frozenset({0, 1}), frozenset({2, 3}), frozenset({4})}
    step = line.merge_step(3)
    assert {frozenset(step.left_points.tolist()), frozenset(step.right_points.tolist())} == {
        frozenset({0, 1}), frozenset({2, 3})}
    assert step.distance == 7.0 and step.k_before == 3


def test_cut_gives_exactly_k_clusters_numbered_by_size(tree):
    for k in range(1, tree.n_leaves_ + 1):
        labels = tree.cut(k)
        assert sorted(np.unique(labels)) == list(range(k))
        sizes = np.bincount(labels)
        assert all(sizes[:-1] >= sizes[1:])


def test_cuts_are_nested(tree):
    for k in range(2, tree.n_leaves_ + 1):
        finer, coarser = tree.cut(k), tree.cut(k - 1)
        assert all(len(np.unique(coarser[finer == label])) == 1 for label in range(k))


def test_merge_steps_agree_with_cuts(tree):
    steps = tree.merge_steps()
    assert [step.k_before for step in steps] == list(range(tree.n_leaves_, 1, -1))
    for step in steps:
        before, after = tree.cut(step.k_before), tree.cut(step.k_before - 1)
        left, right = before[step.left_points], before[step.right_points]
        assert len(set(left)) == len(set(right)) == 1 and left[0] != right[0]
        assert len(step.left_points) == np.sum(before == left[0])
        assert len(step.right_points) == np.sum(before == right[0])
        assert len(set(after[step.left_points]) | set(after[step.right_points])) == 1


def test_merge_step_points_are_read_only(tree):
    with pytest.raises(ValueError):
        tree.merge_step(2).left_points[0] = 0


def test_cut_height_separates_k_from_k_minus_one(tree):
    heights = tree.linkage_[:, 2]
    for k in (2, 5, 17, tree.n_leaves_):
        height = tree.cut_height(k)
        below = heights[tree.n_leaves_ - k - 1] if k < tree.n_leaves_ else 0.0
        assert below <= height <= heights[tree.n_leaves_ - k]
        assert len(np.unique(fcluster(tree.linkage_, height, criterion="distance"))) == k
    assert tree.cut_height(1) > heights[-1]


@pytest.mark.parametrize("k", [0, 41])
def test_out_of_range_k_is_a_settings_error(tree, k):
    with pytest.raises(SettingsError, match="between 1 and 40"):
        tree.cut(k)


def test_merge_step_needs_two_clusters(tree):
    with pytest.raises(SettingsError, match="between 2 and 40"):
        tree.merge_step(1)


def test_to_frame_has_one_row_per_merge(tree):
    frame = tree.to_frame()
    assert len(frame) == tree.n_leaves_ - 1
    assert list(frame.columns) == ["step", "k_before", "left", "right", "distance", "size"]
    assert frame["size"].iloc[-1] == 40
    assert frame["distance"].is_monotonic_increasing


def test_dendrogram_truncates_to_the_last_branches(tree):
    drawing = tree.dendrogram(max_leaves=6)
    assert set(drawing) == {"icoord", "dcoord", "ivl", "leaves"}
    assert len(drawing["ivl"]) == 6 and len(drawing["icoord"]) == 5
    assert len(tree.dendrogram()["ivl"]) == 40


def test_large_data_builds_the_tree_over_centres(big):
    tree, y = big
    assert tree.n_leaves_ == 50
    assert tree.leaf_of_point_.shape == (3000,)
    assert tree.leaf_sizes_.sum() == 3000
    assert tree.linkage_.shape == (49, 4)
    assert adjusted_rand_score(y, tree.cut(4)) > 0.95
    step = tree.merge_step(2)
    assert len(step.left_points) + len(step.right_points) == 3000


def test_restored_tree_cuts_the_same(big):
    tree, _ = big
    restored = ClusterTree.from_arrays(tree.linkage_, tree.leaf_of_point_)
    assert restored.n_leaves_ == tree.n_leaves_
    for k in (1, 3, 10, 50):
        assert np.array_equal(restored.cut(k), tree.cut(k))


def test_bad_settings_raise_settings_error():
    X = np.zeros((5, 2))
    with pytest.raises(SettingsError, match="Unknown linkage"):
        ClusterTree(linkage="single").fit(X)
    with pytest.raises(SettingsError, match="at least 2 rows"):
        ClusterTree().fit(X[:1])
