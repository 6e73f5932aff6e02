"""UMAP reduction before clustering (as BERTopic does) and the 2-d projection for the scatter plot.

UMAP's spectral initialisation fails when there are not more points than output dimensions + 1, so such tiny inputs
take a documented fallback instead of crashing. `umap` is imported inside the functions: its import takes seconds.
"""
from __future__ import annotations

import numpy as np


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


def _umap(X: np.ndarray, *, n_components: int, n_neighbors: int, min_dist: float, metric: str,
          seed: int) -> np.ndarray:
    """UMAP embedding with n_neighbors clipped to the data (it must stay below the number of points)."""
    import umap

    # n_jobs=1 because a fixed random_state makes UMAP single-threaded anyway (it warns otherwise).
    model = umap.UMAP(n_components=n_components, n_neighbors=max(2, min(n_neighbors, len(X) - 1)),
                      min_dist=min_dist, metric=metric, random_state=seed, n_jobs=1)
    return np.asarray(model.fit_transform(X), dtype=float)


def _pca_2d(X: np.ndarray) -> np.ndarray:
    """First two principal coordinates, zero-padded when the data has fewer than two directions."""
    centred = X - X.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    coords = (u * s)[:, :2]
    return np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))


class UMAPReducer:
    """Reduce embeddings to a few dimensions before clustering (5-d cosine UMAP, BERTopic's defaults).

    Fallback: with n <= n_components + 1 points UMAP cannot run; the input is returned unchanged, which is what the
    clustering would see without reduction.
    """

    def __init__(self, n_components: int = 5, n_neighbors: int = 15, min_dist: float = 0.0, metric: str = "cosine",
                 seed: int = 42) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.seed = seed

    def fit(self, X: np.ndarray) -> "UMAPReducer":
        """Learn the reduced coordinates of X into `embedding_`."""
        X = as_matrix(X)
        if len(X) <= self.n_components + 1:
            self.embedding_ = X.copy()
        else:
            self.embedding_ = _umap(X, n_components=self.n_components, n_neighbors=self.n_neighbors,
                                    min_dist=self.min_dist, metric=self.metric, seed=self.seed)
        return self

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """The reduced coordinates of X, one row per input row."""
        return self.fit(X).embedding_


def project_2d(X: np.ndarray, seed: int = 42, metric: str = "cosine") -> np.ndarray:
    """2-d coordinates for the scatter plot: UMAP with min_dist=0.1 so points do not pile up.

    Fallback: with 3 points or fewer UMAP cannot run, so the first two principal coordinates are used.
    """
    X = as_matrix(X)
    if len(X) <= 3:
        return _pca_2d(X)
    return _umap(X, n_components=2, n_neighbors=15, min_dist=0.1, metric=metric, seed=seed)
