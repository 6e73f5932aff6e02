"""The cluster tree: an agglomerative hierarchy you can hold, cut at any k, and walk merge by merge (as in hdbscan).

Large data sets are first summarised by MiniBatchKMeans centres (the tree's leaves); the linkage over those centres
weights each centre by the number of points it stands for, so the tree is the exact agglomeration (Ward, average or
complete) that starts from the leaf clusters instead of from single points.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from sklearn.cluster import MiniBatchKMeans

from core.cluster.reduce import as_matrix
from core.errors import SettingsError
from core.settings import Linkage

LINKAGES: tuple[str, ...] = typing.get_args(Linkage)
DENDROGRAM_LEAVES = 100  # default number of branches drawn; more makes the figure slow and unreadable


@dataclass(frozen=True)
class MergeStep:
    """Going from `k_before` clusters to one fewer, the clusters holding these points (indices into X) merge."""

    k_before: int
    left_points: np.ndarray
    right_points: np.ndarray
    distance: float


def check_linkage(linkage: str) -> None:
    """Raise SettingsError for a linkage this package does not offer."""
    if linkage not in LINKAGES:
        raise SettingsError(f"Unknown linkage {linkage!r}. Use one of: {', '.join(LINKAGES)}.")


def weighted_linkage(points: np.ndarray, weights: np.ndarray, method: str = "ward") -> np.ndarray:
    """A scipy-format linkage matrix over points that each stand for `weights` observations.

    Lance-Williams updates on a dense matrix: O(L²) memory and O(L³) time, meant for a few hundred leaves. With unit
    weights it equals scipy's `linkage(points, method)`; column 3 counts leaves, as scipy expects.
    """
    check_linkage(method)
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    sq = np.square(points).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * points @ points.T, 0.0)
    w = np.asarray(weights, dtype=float).copy()
    # Ward works on squared merge heights 2·ΔSSE; average and complete on plain distances.
    dist = 2.0 * np.outer(w, w) / np.add.outer(w, w) * d2 if method == "ward" else np.sqrt(d2)
    np.fill_diagonal(dist, np.inf)
    node = np.arange(n)
    leaves = np.ones(n)
    merges = np.empty((n - 1, 4))
    for step in range(n - 1):
        i, j = sorted(divmod(int(np.argmin(dist)), n))
        d_ij = dist[i, j]
        if method == "ward":
            merged = ((w[i] + w) * dist[i] + (w[j] + w) * dist[j] - w * d_ij) / (w[i] + w[j] + w)
        elif method == "average":
            merged = (w[i] * dist[i] + w[j] * dist[j]) / (w[i] + w[j])
        else:
            merged = np.maximum(dist[i], dist[j])
        merges[step] = (min(node[i], node[j]), max(node[i], node[j]),
                        np.sqrt(d_ij) if method == "ward" else d_ij, leaves[i] + leaves[j])
        dist[i, :] = dist[:, i] = merged
        dist[j, :] = dist[:, j] = np.inf
        dist[i, i] = np.inf
        w[i] += w[j]
        leaves[i] += leaves[j]
        node[i] = n + step
    # These linkages never decrease in exact arithmetic; this only irons out rounding so dendrograms draw cleanly.
    merges[:, 2] = np.maximum.accumulate(merges[:, 2])
    return merges


class ClusterTree:
    """Agglomerative tree over the points of X, or over MiniBatchKMeans centres when there are more than max_leaves.

    Learned: `leaf_of_point_` (leaf of each point), `n_leaves_`, `linkage_` (scipy linkage over the leaves) and
    `leaf_sizes_` (points per leaf). Cuts and merge steps are reported for the points, not the leaves.
    """

    def __init__(self, max_leaves: int = 500, linkage: str = "ward", seed: int = 0) -> None:
        self.max_leaves = max_leaves
        self.linkage = linkage
        self.seed = seed

    def fit(self, X: np.ndarray) -> "ClusterTree":
        """Build the tree; above max_leaves points the leaves are mini-batch k-means centres weighted by their size."""
        check_linkage(self.linkage)
        if self.max_leaves < 2:
            raise SettingsError(f"max_leaves must be at least 2, not {self.max_leaves}.")
        X = as_matrix(X)
        if len(X) < 2:
            raise SettingsError(f"A cluster tree needs at least 2 rows; this data has {len(X)}.")
        if len(X) <= self.max_leaves:
            leaves, leaf_of_point = X, np.arange(len(X))
        else:
            # Random initialisation: k-means++ over hundreds of centres in embedding dimensions costs ~10x the fit.
            kmeans = MiniBatchKMeans(n_clusters=self.max_leaves, init="random", n_init=3,
                                     random_state=self.seed).fit(X)
            used, leaf_of_point = np.unique(kmeans.labels_, return_inverse=True)  # drop centres left empty
            leaves = kmeans.cluster_centers_[used]
            if len(leaves) < 2:
                raise SettingsError("All rows are identical, so there is no cluster tree to build.")
        sizes = np.bincount(leaf_of_point, minlength=len(leaves))
        self._set_tree(weighted_linkage(leaves, sizes, self.linkage), leaf_of_point)
        return self

    @classmethod
    def from_arrays(cls, linkage: np.ndarray, leaf_of_point: np.ndarray) -> "ClusterTree":
        """A fitted tree restored from the two arrays fit learned (`linkage_`, `leaf_of_point_`), e.g. from disk."""
        tree = cls(max_leaves=len(linkage) + 1)
        tree._set_tree(np.asarray(linkage, dtype=float), np.asarray(leaf_of_point, dtype=np.int64))
        return tree

    def _set_tree(self, linkage: np.ndarray, leaf_of_point: np.ndarray) -> None:
        """Store the tree and lay the points out so that every node's points form one contiguous slice."""
        n_leaves = len(linkage) + 1
        self.linkage_ = linkage
        self.leaf_of_point_ = leaf_of_point
        self.n_leaves_ = n_leaves
        self.leaf_sizes_ = np.bincount(leaf_of_point, minlength=n_leaves)
        # In the dendrogram's leaf order every subtree is contiguous, so sorting points by the position of their
        # leaf makes every node a slice (start, size) of `_point_order`: merge steps cost O(1), not O(n²) memory.
        in_order = hierarchy.leaves_list(linkage)
        position = np.empty(n_leaves, dtype=np.int64)
        position[in_order] = np.arange(n_leaves)
        self._point_order = np.argsort(position[leaf_of_point], kind="stable")
        self._point_order.setflags(write=False)
        leaf_start = np.empty(n_leaves, dtype=np.int64)
        leaf_start[in_order] = np.cumsum(self.leaf_sizes_[in_order]) - self.leaf_sizes_[in_order]
        n_nodes = 2 * n_leaves - 1
        self._start = np.concatenate([leaf_start, np.zeros(n_leaves - 1, dtype=np.int64)])
        self._size = np.concatenate([self.leaf_sizes_, np.zeros(n_leaves - 1, dtype=np.int64)])
        self._parent = np.full(n_nodes, n_nodes, dtype=np.int64)  # the root's parent is a sentinel above every id
        for step, (left, right) in enumerate(linkage[:, :2].astype(np.int64)):
            node = n_leaves + step
            self._start[node] = min(self._start[left], self._start[right])
            self._size[node] = self._size[left] + self._size[right]
            self._parent[left] = self._parent[right] = node

    def _points_of(self, node: int) -> np.ndarray:
        start = self._start[node]
        return self._point_order[start:start + self._size[node]]

    def _check_k(self, k: int, lowest: int = 1) -> int:
        if not lowest <= k <= self.n_leaves_:
            raise SettingsError(f"k must be between {lowest} and {self.n_leaves_} (the tree has {self.n_leaves_} "
                                f"leaves), not {k}.")
        return int(k)

    def cut(self, k: int) -> np.ndarray:
        """Labels of the points at k clusters, 0..k-1 by decreasing size (label 0 is the biggest cluster)."""
        k = self._check_k(k)
        # After the first n_leaves - k merges the clusters are the nodes created so far whose parent is not.
        created = 2 * self.n_leaves_ - k
        nodes = np.arange(2 * self.n_leaves_ - 1)
        clusters = nodes[(nodes < created) & (self._parent >= created)]
        clusters = clusters[np.lexsort((self._start[clusters], -self._size[clusters]))]
        labels = np.empty(len(self.leaf_of_point_), dtype=np.int64)
        for label, node in enumerate(clusters):
            labels[self._points_of(node)] = label
        return labels

    def merge_step(self, k: int) -> MergeStep:
        """The merge that takes the tree from k clusters to k - 1 (2 <= k <= n_leaves_)."""
        k = self._check_k(k, lowest=2)
        left, right, distance, _ = self.linkage_[self.n_leaves_ - k]
        return MergeStep(k, self._points_of(int(left)), self._points_of(int(right)), float(distance))

    def merge_steps(self) -> list[MergeStep]:
        """Every merge, from k = n_leaves_ down to k = 2; point arrays are read-only views, so this stays O(n)."""
        return [self.merge_step(k) for k in range(self.n_leaves_, 1, -1)]

    def to_frame(self) -> pd.DataFrame:
        """One row per merge: step, k_before, the merged node ids (scipy numbering), distance, points in the result."""
        steps = np.arange(self.n_leaves_ - 1)
        return pd.DataFrame({
            "step": steps,
            "k_before": self.n_leaves_ - steps,
            "left": self.linkage_[:, 0].astype(np.int64),
            "right": self.linkage_[:, 1].astype(np.int64),
            "distance": self.linkage_[:, 2],
            "size": self._size[self.n_leaves_ + steps],
        })

    def dendrogram(self, max_leaves: int | None = None) -> dict[str, list]:
        """Line coordinates of the dendrogram for plotting (scipy's icoord, dcoord, ivl, leaves).

        Only the last `max_leaves` branches are drawn (DENDROGRAM_LEAVES by default).
        """
        shown = min(self.n_leaves_, max_leaves or DENDROGRAM_LEAVES)
        drawing = hierarchy.dendrogram(self.linkage_, no_plot=True, truncate_mode="lastp", p=shown)
        return {key: drawing[key] for key in ("icoord", "dcoord", "ivl", "leaves")}

    def cut_height(self, k: int) -> float:
        """A height between the merges that leave k and k - 1 clusters, where a horizontal cut line yields k."""
        k = self._check_k(k)
        heights = self.linkage_[:, 2]
        below = heights[self.n_leaves_ - k - 1] if k < self.n_leaves_ else 0.0
        above = heights[self.n_leaves_ - k] if k > 1 else heights[-1] * 1.1
        return float((below + above) / 2)
