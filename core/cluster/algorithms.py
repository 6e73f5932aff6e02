"""The clustering algorithms behind one estimator, `Clusterer`, with k chosen by silhouette when not given.

Labels are renumbered by cluster size (0 is the biggest cluster) so that runs and tree cuts read alike; HDBSCAN's
noise points keep the label -1.
"""
from __future__ import annotations

import functools
import typing
from collections.abc import Callable

import numpy as np
from scipy.cluster.hierarchy import linkage as scipy_linkage
from sklearn.cluster import HDBSCAN, KMeans, SpectralClustering

from core.cluster.choose_k import best_k, default_k_range, search_k
from core.cluster.hierarchy import LINKAGES, ClusterTree, check_linkage
from core.cluster.reduce import as_matrix
from core.errors import SettingsError
from core.settings import Algorithm

__all__ = ["ALGORITHMS", "LINKAGES", "Clusterer", "choose_k_by_silhouette", "cluster", "labeller"]

ALGORITHMS: tuple[str, ...] = typing.get_args(Algorithm)
NOISE = -1
HDBSCAN_MIN_CLUSTER_SIZE = 10  # BERTopic's default
AGGLOMERATIVE_MAX_ROWS = 20_000  # exact agglomeration stores all n² / 2 pairwise distances (1.6 GB at this size)


def check_algorithm(algorithm: str) -> None:
    """Raise SettingsError for an algorithm this package does not offer."""
    if algorithm not in ALGORITHMS:
        raise SettingsError(f"Unknown clustering algorithm {algorithm!r}. Use one of: {', '.join(ALGORITHMS)}.")


def by_size(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0, 1, ... by decreasing cluster size (ties by first appearance); noise stays -1."""
    labels = np.asarray(labels)
    clustered = labels >= 0
    values, first, counts = np.unique(labels[clustered], return_index=True, return_counts=True)
    rank = np.empty(len(values), dtype=np.int64)
    rank[np.lexsort((first, -counts))] = np.arange(len(values))
    renumbered = np.full(len(labels), NOISE, dtype=np.int64)
    renumbered[clustered] = rank[np.searchsorted(values, labels[clustered])]
    return renumbered


def labeller(X: np.ndarray, algorithm: str, *, linkage: str = "ward", seed: int = 0,
             n_init: int = 10) -> Callable[[int], np.ndarray]:
    """A function k -> labels of X for an algorithm that needs k, cached so that no k is fitted twice.

    Agglomerative clustering builds its tree once and only cuts it per k. It always uses Euclidean distances (Ward
    needs them; on L2-normalised embeddings they rank pairs as cosine does, and on UMAP output cosine is meaningless).
    """
    check_algorithm(algorithm)
    check_linkage(linkage)
    if algorithm == "hdbscan":
        raise SettingsError("HDBSCAN finds the number of clusters itself; leave k empty or pick kmeans, "
                            "agglomerative or spectral to set it.")
    if algorithm == "agglomerative":
        if len(X) > AGGLOMERATIVE_MAX_ROWS:
            raise SettingsError(f"Agglomerative clustering of {len(X)} rows needs too much memory (it is exact up to "
                                f"{AGGLOMERATIVE_MAX_ROWS} rows). Use kmeans or hdbscan, or the cluster tree's cuts.")
        tree = ClusterTree.from_arrays(scipy_linkage(X, method=linkage, metric="euclidean"), np.arange(len(X)))
        return functools.cache(tree.cut)

    def label_at(k: int) -> np.ndarray:
        if algorithm == "kmeans":
            model = KMeans(n_clusters=k, n_init=n_init, random_state=seed)
        else:
            model = SpectralClustering(n_clusters=k, affinity="nearest_neighbors", n_neighbors=min(10, len(X) - 1),
                                       assign_labels="cluster_qr", random_state=seed)
        return by_size(model.fit_predict(X))

    return functools.cache(label_at)


class Clusterer:
    """Cluster the rows of X with one of ALGORITHMS.

    kmeans, agglomerative and spectral need k: `n_clusters`, or when it is None the k in `k_range` with the best
    silhouette (`k_range`, or `default_k_range(n)` when None). hdbscan ignores `n_clusters` and `k_range`: it finds the clusters itself and marks noise as -1, with
    `min_cluster_size` defaulting to 10 (BERTopic's value) clipped to [2, n // 2] for small data.

    Learned: `labels_`, `n_clusters_` (noise excluded), `k_curve_` ({k: silhouette} when k was chosen, else None) and
    `noise_fraction_`.
    """

    def __init__(self, algorithm: str = "kmeans", n_clusters: int | None = None, *,
                 k_range: tuple[int, int] | None = None,
                 linkage: str = "ward", seed: int = 0, min_cluster_size: int | None = None, n_init: int = 10) -> None:
        self.algorithm = algorithm
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.linkage = linkage
        self.seed = seed
        self.min_cluster_size = min_cluster_size
        self.n_init = n_init

    def fit(self, X: np.ndarray, y: None = None) -> "Clusterer":
        """Cluster X; `y` is ignored (there for scikit-learn compatibility)."""
        check_algorithm(self.algorithm)
        check_linkage(self.linkage)
        X = as_matrix(X)
        n = len(X)
        if n < 2:
            raise SettingsError(f"Clustering needs at least 2 rows; this data has {n}.")
        self.k_curve_: dict[int, float] | None = None
        if self.algorithm == "hdbscan":
            labels = self._hdbscan(X)
        else:
            label_at = labeller(X, self.algorithm, linkage=self.linkage, seed=self.seed, n_init=self.n_init)
            if self.n_clusters is None:
                k_range = self.k_range or default_k_range(n)
                self.k_curve_ = search_k(X, label_at, k_range, seed=self.seed)
                k = best_k(self.k_curve_)
            else:
                k = self.n_clusters
                # Spectral embedding needs fewer eigenvectors than points, hence one cluster fewer at most.
                most = n - 1 if self.algorithm == "spectral" else n
                if most < 2:
                    raise SettingsError(f"{self.algorithm} needs at least 3 rows; this data has {n}.")
                if not 2 <= k <= most:
                    raise SettingsError(f"With {n} rows, {self.algorithm} can make between 2 and {most} clusters, "
                                        f"not {k}. Pick k in that range.")
            labels = label_at(k)
        self.labels_ = labels
        self.n_clusters_ = int(len(np.unique(labels[labels != NOISE])))
        self.noise_fraction_ = float(np.mean(labels == NOISE))
        return self

    def _hdbscan(self, X: np.ndarray) -> np.ndarray:
        size = self.min_cluster_size
        if size is None:
            size = max(2, min(HDBSCAN_MIN_CLUSTER_SIZE, len(X) // 2))
        elif size < 2:
            raise SettingsError(f"min_cluster_size must be at least 2, not {size}.")
        labels = HDBSCAN(min_cluster_size=size, copy=True).fit_predict(X)
        return by_size(np.where(labels < 0, NOISE, labels))


def cluster(X: np.ndarray, algorithm: str = "kmeans", k: int | None = None, **settings) -> Clusterer:
    """Shorthand for `Clusterer(algorithm, k, **settings).fit(X)`."""
    return Clusterer(algorithm, k, **settings).fit(X)


def choose_k_by_silhouette(X: np.ndarray, k_range: tuple[int, int] = (2, 15), *, algorithm: str = "kmeans",
                           seed: int = 0, linkage: str = "ward") -> tuple[int, dict[int, float]]:
    """The best k for `algorithm` on X and the whole curve {k: silhouette} it was read from."""
    X = as_matrix(X)
    curve = search_k(X, labeller(X, algorithm, linkage=linkage, seed=seed), k_range, seed=seed)
    return best_k(curve), curve
