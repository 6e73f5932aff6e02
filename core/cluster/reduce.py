"""UMAP reduction before clustering (as BERTopic does) and the 2-d projection for the scatter plot.

UMAP's spectral initialisation fails when there are not more points than output dimensions + 1, so such tiny inputs
take a documented fallback instead of crashing. `umap` is imported inside the functions: its import takes seconds.

Above FIT_SAMPLE rows UMAP learns its layout from a seeded sample and places every other row from its neighbours in
that sample, so its cost stops growing with n once the sample is fitted (umap-learn's own memory limits at scale:
its issues #511 and #125). The placement is row-wise (`UMAPPlacement`), so rows placed in parallel blocks on a cluster
land where they would in one piece.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.settings import FIT_SAMPLE

RowMap = Callable[[Callable[[np.ndarray], np.ndarray], np.ndarray], np.ndarray]
"""row_map(fn, X) -> fn applied to the rows of X, in one piece or in parallel blocks (a Ray Data pipeline); `fn`
is row-wise and picklable (a fitted model's method), so any split of X gives the same rows back."""


def in_process(fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
    """The RowMap of one process: fn(X)."""
    return fn(X)


PLACE_NEIGHBORS = 15
"""Sample rows whose coordinates place one more row (UMAP's own n_neighbors)."""
PLACE_BLOCK = 5_000
"""Rows placed at once: a block's similarities to 20,000 fitted rows take 400 MB in float32."""


def as_matrix(X: np.ndarray) -> np.ndarray:
    """X as a 2-d float array (rows x features); anything else is a bug in the caller.

    float32 stays float32: half the memory for embeddings, and the same k-means result as scikit-learn gives on them.
    """
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-d array (rows x features), got shape {X.shape}.")
    return X


def fit_rows(n: int, fit_sample: int | None, seed: int) -> np.ndarray:
    """Indices (sorted) of the rows a model is fitted on: all of them, or a seeded sample of `fit_sample`."""
    if fit_sample is None or n <= fit_sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=fit_sample, replace=False))


def _umap(X: np.ndarray, *, n_components: int, n_neighbors: int, min_dist: float, metric: str, seed: int,
          fit_sample: int | None = None, row_map: RowMap = in_process) -> tuple[np.ndarray, UMAPPlacement]:
    """(UMAP coordinates of every row, a placement for new rows) with n_neighbors clipped to the data (it must stay
    below the number of points); above `fit_sample` rows UMAP is fitted on a sample and the other rows are placed."""
    import umap

    fitted = fit_rows(len(X), fit_sample, seed)
    # n_jobs=1 because a fixed random_state makes UMAP single-threaded anyway (it warns otherwise).
    model = umap.UMAP(n_components=n_components, n_neighbors=max(2, min(n_neighbors, len(fitted) - 1)),
                      min_dist=min_dist, metric=metric, random_state=seed, n_jobs=1)
    if len(fitted) == len(X):
        coordinates = np.asarray(model.fit_transform(X), dtype=float)
        return coordinates, UMAPPlacement(X, coordinates, metric)
    coordinates = np.empty((len(X), n_components), dtype=float)
    coordinates[fitted] = model.fit(X[fitted]).embedding_
    placement = UMAPPlacement(X[fitted], coordinates[fitted], metric)
    rest = np.setdiff1d(np.arange(len(X)), fitted, assume_unique=True)
    coordinates[rest] = row_map(placement, X[rest])
    return coordinates, placement


class UMAPPlacement:
    """Places new rows in a fitted UMAP layout: each row goes to the mean of the coordinates of its PLACE_NEIGHBORS
    nearest fitted rows, weighted as UMAP weighs graph edges (exp(-d / sigma), sigma fitted per row). That is where
    umap-learn's own `transform` starts before it optimises; its optimisation is skipped because its epochs and
    pruning depend on how many rows come at once, and here a row's place must not depend on its block.

    Holds the fitted rows (float32, unit length for "cosine") and their coordinates; picklable, so a Ray actor can
    hold one. The neighbour search is exact (a matrix product and torch's top-k, on every core)."""

    def __init__(self, fitted: np.ndarray, coordinates: np.ndarray, metric: str = "cosine",
                 n_neighbors: int = PLACE_NEIGHBORS) -> None:
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"Rows can be placed by cosine or euclidean distance, not {metric!r}.")
        self.metric = metric
        self.fitted = self._prepared(np.asarray(fitted))
        self.coordinates = np.asarray(coordinates, dtype=float)
        self.n_neighbors = min(n_neighbors, len(self.coordinates))

    def _prepared(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if self.metric == "cosine":
            X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        return X

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Coordinates of the rows of X, PLACE_BLOCK rows at a time."""
        X = as_matrix(X)
        return np.concatenate([self._place(X[start:start + PLACE_BLOCK]) for start in range(0, len(X), PLACE_BLOCK)]
                              or [np.zeros((0, self.coordinates.shape[1]))])

    def _place(self, X: np.ndarray) -> np.ndarray:
        import torch
        from umap.umap_ import smooth_knn_dist

        query, fitted = torch.from_numpy(self._prepared(X)), torch.from_numpy(self.fitted)
        if self.metric == "cosine":
            similarity, neighbours = torch.topk(query @ fitted.T, self.n_neighbors, dim=1)
            distances = (1.0 - similarity).clamp_(min=0.0)
        else:
            distances, neighbours = torch.topk(torch.cdist(query, fitted), self.n_neighbors, dim=1, largest=False)
        distances, neighbours = distances.numpy(), neighbours.numpy()
        sigmas, _ = smooth_knn_dist(distances, float(self.n_neighbors), local_connectivity=0.0)
        weights = np.exp(-distances / np.maximum(sigmas, 1e-12)[:, None])
        weights[weights.sum(axis=1) == 0, 0] = 1.0  # a row far from every fitted row takes its nearest one's place
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("rk,rkd->rd", weights, self.coordinates[neighbours])


def _pca_2d(X: np.ndarray) -> np.ndarray:
    """First two principal coordinates, zero-padded when the data has fewer than two directions."""
    centred = X - X.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    coords = (u * s)[:, :2]
    return np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))


class UMAPReducer:
    """Reduce embeddings to a few dimensions before clustering (5-d cosine UMAP, BERTopic's defaults).

    Above `fit_sample` rows the layout is learned on a seeded sample and the other rows are placed in it (through
    `row_map`: here, or in parallel on a cluster). Learned:
    `embedding_` (the coordinates of every row of X) and `placement_` (a UMAPPlacement, for `transform`; None when
    UMAP could not run).

    Fallback: with n <= n_components + 1 points UMAP cannot run; the input is returned unchanged, which is what the
    clustering would see without reduction.
    """

    def __init__(self, n_components: int = 5, n_neighbors: int = 15, min_dist: float = 0.0, metric: str = "cosine",
                 seed: int = 42, fit_sample: int | None = FIT_SAMPLE, row_map: RowMap = in_process) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.seed = seed
        self.fit_sample = fit_sample
        self.row_map = row_map

    def fit(self, X: np.ndarray) -> "UMAPReducer":
        """Learn the reduced coordinates of X into `embedding_`."""
        X = as_matrix(X)
        if len(X) <= self.n_components + 1:
            self.embedding_, self.placement_ = X.copy(), None
        else:
            self.embedding_, self.placement_ = _umap(X, n_components=self.n_components, n_neighbors=self.n_neighbors,
                                                     min_dist=self.min_dist, metric=self.metric, seed=self.seed,
                                                     fit_sample=self.fit_sample, row_map=self.row_map)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Coordinates of new rows in the learned layout (the rows themselves when UMAP could not run)."""
        X = as_matrix(X)
        return X.copy() if self.placement_ is None else self.placement_(X)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """The reduced coordinates of X, one row per input row."""
        return self.fit(X).embedding_


def project_2d(X: np.ndarray, seed: int = 42, metric: str = "cosine", fit_sample: int | None = FIT_SAMPLE,
               row_map: RowMap = in_process) -> np.ndarray:
    """2-d coordinates for the scatter plot: UMAP with min_dist=0.1 so points do not pile up (fitted on a sample of
    `fit_sample` rows when there are more).

    Fallback: with 3 points or fewer UMAP cannot run, so the first two principal coordinates are used.
    """
    X = as_matrix(X)
    if len(X) <= 3:
        return _pca_2d(X)
    return _umap(X, n_components=2, n_neighbors=15, min_dist=0.1, metric=metric, seed=seed, fit_sample=fit_sample,
                 row_map=row_map)[0]
