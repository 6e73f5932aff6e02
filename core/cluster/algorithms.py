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
from sklearn.neighbors import KNeighborsClassifier

from core.cluster.choose_k import best_k, default_k_range, search_k
from core.cluster.hierarchy import LINKAGES, ClusterTree, check_linkage
from core.cluster.reduce import RowMap, as_matrix, fit_rows, in_process
from core.errors import SettingsError
from core.settings import FIT_SAMPLE, SEARCH_SAMPLE, Algorithm

__all__ = ["ALGORITHMS", "LINKAGES", "Clusterer", "choose_k_by_silhouette", "cluster", "labeller"]

ALGORITHMS: tuple[str, ...] = typing.get_args(Algorithm)
NOISE = -1
HDBSCAN_MIN_CLUSTER_SIZE = 10  # BERTopic's default
AGGLOMERATIVE_MAX_ROWS = 20_000  # exact agglomeration stores all n² / 2 pairwise distances (1.6 GB at this size)
ASSIGN_NEIGHBORS = 5
"""Fitted rows that vote for the cluster of a row the clusterer did not see (all algorithms but k-means, which
assigns a row to its nearest centre); five voters, as new rows are assigned to a curated run's clusters."""
SEARCH_N_INIT = 3
"""k-means starts per candidate k when the search runs on more than FULL_SEARCH_UP_TO rows (at most `n_init`): the
search only ranks the candidates, and the chosen k is then fitted with all `n_init` starts. On 5,000-row samples
3 starts chose the same k as 10 (to within 1) on both seeds measured (bench_results/scale.md)."""
FULL_SEARCH_UP_TO = 5_000
"""Rows up to which the search for k runs as it always did, with every start, so results on data of benchmark size
(Bank77's 3,080 texts, CLINC150's 4,500) stand."""
PREDICT_BLOCK = 10_000
"""Rows assigned at once: a block's distances to 300 centres take 24 MB."""


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

    Above `fit_sample` rows the clustering (and the search for k) is fitted on a seeded sample of that size and the
    other rows are assigned with `predict` (through `row_map`: here, or in parallel on a cluster): the nearest
    k-means centre, or a vote of the ASSIGN_NEIGHBORS nearest fitted rows for the other algorithms. Above
    FULL_SEARCH_UP_TO fitted rows, the search for k runs k-means at `search_n_init` starts (at most `n_init`), and
    above `search_sample` fitted rows it scores its candidates on a seeded sample of that size; only the chosen k is
    fitted on every fitted row, with `n_init` starts.

    `fit(X, unreduced=E)` says that X is a reduction (UMAP) of E, row for row: the search for k then passes over a k
    whose cosine silhouette in E is well below the best candidate's (choose_k.CHECK_RATIO).

    Learned: `labels_`, `n_clusters_` (noise excluded), `k_curve_` ({k: silhouette} when k was chosen, else None),
    `k_curve_unreduced_` ({k: cosine silhouette in `unreduced`} when k was chosen with it, else None),
    `noise_fraction_`, and what `predict` needs: `centers_` and `center_labels_` (k-means) or `voter_`, a
    nearest-neighbour classifier over the fitted rows.
    """

    def __init__(self, algorithm: str = "kmeans", n_clusters: int | None = None, *,
                 k_range: tuple[int, int] | None = None,
                 linkage: str = "ward", seed: int = 0, min_cluster_size: int | None = None, n_init: int = 10,
                 fit_sample: int | None = FIT_SAMPLE, search_sample: int | None = SEARCH_SAMPLE,
                 search_n_init: int = SEARCH_N_INIT, row_map: RowMap = in_process) -> None:
        self.algorithm = algorithm
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.linkage = linkage
        self.seed = seed
        self.min_cluster_size = min_cluster_size
        self.n_init = n_init
        self.fit_sample = fit_sample
        self.search_sample = search_sample
        self.search_n_init = search_n_init
        self.row_map = row_map

    def fit(self, X: np.ndarray, y: None = None, *, unreduced: np.ndarray | None = None) -> "Clusterer":
        """Cluster X (a sample of it above `fit_sample` rows, then assign the rest); `y` is ignored (there for
        scikit-learn compatibility); `unreduced`: X before reduction, to check the choice of k against."""
        X = as_matrix(X)
        if unreduced is not None and len(unreduced) != len(X):
            raise ValueError(f"unreduced has {len(unreduced)} rows and X {len(X)}: they must be the same rows.")
        fitted = fit_rows(len(X), self.fit_sample, self.seed)
        self._fit_rows(X[fitted], None if unreduced is None else as_matrix(unreduced)[fitted])
        if len(fitted) < len(X):
            labels = np.empty(len(X), dtype=np.int64)
            labels[fitted] = self.labels_
            rest = np.setdiff1d(np.arange(len(X)), fitted, assume_unique=True)
            labels[rest] = self.row_map(self.predict, X[rest])
            renumbered = by_size(labels)
            old, first = np.unique(labels, return_index=True)  # so that predict answers in the new numbering too
            self._relabel(dict(zip(old.tolist(), renumbered[first].tolist())))
            self._set_labels(renumbered)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The cluster of each row of X (k-means: the nearest centre; else a vote of the nearest fitted rows), in
        blocks of PREDICT_BLOCK rows so memory stays flat."""
        X = as_matrix(X)
        if self.centers_ is None:
            return np.concatenate([self.voter_.predict(X[start:start + PREDICT_BLOCK]).astype(np.int64)
                                   for start in range(0, len(X), PREDICT_BLOCK)] or [np.zeros(0, np.int64)])
        squares = np.square(self.centers_).sum(1)[None, :]
        return np.concatenate([self.center_labels_[np.argmin(squares - 2 * X[start:start + PREDICT_BLOCK]
                                                             @ self.centers_.T, axis=1)]
                               for start in range(0, len(X), PREDICT_BLOCK)] or [np.zeros(0, np.int64)])

    def _relabel(self, mapping: dict[int, int]) -> None:
        """Renumber the clusters `predict` answers with."""
        if self.centers_ is not None:
            self.center_labels_ = np.array([mapping[label] for label in self.center_labels_.tolist()])
        else:
            self.voter_.classes_ = np.array([mapping[label] for label in self.voter_.classes_.tolist()])

    def _set_labels(self, labels: np.ndarray) -> None:
        self.labels_ = labels
        self.n_clusters_ = int(len(np.unique(labels[labels != NOISE])))
        self.noise_fraction_ = float(np.mean(labels == NOISE))

    def _fit_rows(self, X: np.ndarray, unreduced: np.ndarray | None) -> None:
        """Cluster every row of X and keep what `predict` needs."""
        check_algorithm(self.algorithm)
        check_linkage(self.linkage)
        n = len(X)
        if n < 2:
            raise SettingsError(f"Clustering needs at least 2 rows; this data has {n}.")
        self.k_curve_: dict[int, float] | None = None
        self.k_curve_unreduced_: dict[int, float] | None = None
        if self.algorithm == "hdbscan":
            labels = self._hdbscan(X)
        else:
            label_at = labeller(X, self.algorithm, linkage=self.linkage, seed=self.seed, n_init=self.n_init)
            if self.n_clusters is None:
                k_range = self.k_range or default_k_range(n)
                self.k_curve_, self.k_curve_unreduced_ = self._search_k(X, label_at, k_range, unreduced)
                k = best_k(self.k_curve_, self.k_curve_unreduced_)
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
        self._set_labels(labels)
        self.centers_ = None
        if self.algorithm == "kmeans":
            self.center_labels_ = np.unique(labels)
            self.centers_ = np.stack([X[labels == label].mean(axis=0) for label in self.center_labels_])
        else:
            self.voter_ = KNeighborsClassifier(n_neighbors=min(ASSIGN_NEIGHBORS, n)).fit(X, labels)

    def _search_k(self, X: np.ndarray, label_at: Callable[[int], np.ndarray], k_range: tuple[int, int],
                  unreduced: np.ndarray | None) -> tuple[dict[int, float], dict[int, float] | None]:
        """The silhouette curves over k_range (`search_k`): as always up to FULL_SEARCH_UP_TO rows; above, with at
        most `search_n_init` k-means starts, on X itself up to `search_sample` rows, else on a seeded sample of X."""
        if len(X) <= FULL_SEARCH_UP_TO:
            return search_k(X, label_at, k_range, seed=self.seed, unreduced=unreduced)
        rows = fit_rows(len(X), self.search_sample, self.seed)
        sample_label_at = labeller(X[rows], self.algorithm, linkage=self.linkage, seed=self.seed,
                                   n_init=min(self.n_init, self.search_n_init))
        return search_k(X[rows], sample_label_at, k_range, seed=self.seed,
                        unreduced=None if unreduced is None else unreduced[rows])

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
                           seed: int = 0, linkage: str = "ward",
                           unreduced: np.ndarray | None = None) -> tuple[int, dict[int, float]]:
    """The best k for `algorithm` on X and the whole curve {k: silhouette} it was read from; `unreduced` as for
    `Clusterer.fit`."""
    X = as_matrix(X)
    curve, checked = search_k(X, labeller(X, algorithm, linkage=linkage, seed=seed), k_range, seed=seed,
                              unreduced=unreduced)
    return best_k(curve, checked), curve
