"""UMAP reduction before clustering (as BERTopic does) and the 2-d projection for the scatter plot.

UMAP's spectral initialisation fails when there are not more points than output dimensions + 1, so such tiny inputs
take a documented fallback instead of crashing. `umap` is imported inside the functions: its import takes seconds.

Above FIT_SAMPLE rows UMAP learns its layout from a seeded sample and places every other row from its neighbours in
that sample, so its cost stops growing with n once the sample is fitted (umap-learn's own memory limits at scale:
its issues #511 and #125). The placement is row-wise (`UMAPPlacement`), so rows placed in parallel blocks on a cluster
land where they would in one piece.

Above EXACT_NEIGHBORS_ABOVE fitted rows, UMAP is given exact nearest neighbours computed here instead of running
umap-learn's NN-descent, whose numba functions compile for 30-60 s in every new process and cannot be cached; the
numba functions umap-learn still runs are cached on disk (`cache_umap_compiles`). bench_results/scale.md has the
figures.
"""
from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable

import numpy as np

from core import paths
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
EXACT_NEIGHBORS_ABOVE = 5_000
"""Fitted rows above which UMAP's neighbours are exact ones from `nearest_rows` rather than umap-learn's: its own
path (exact distances below 4,096 rows, NN-descent from there) is kept up to 5,000 rows, so the benchmark figures of
data of that size (CLINC150's 4,500 texts) stand."""


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


@functools.cache
def cache_umap_compiles() -> None:
    """Have numba cache umap-learn's functions on disk ($NUMBA_CACHE_DIR, else `paths.numba_cache_dir()`), which
    umap-learn does not ask for, so that only the first process on a machine compiles them. Other libraries' numba
    functions keep their own cache settings."""
    import numba
    import umap  # noqa: F401  (loads the modules whose functions are cached)
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    chosen = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = chosen or str(paths.numba_cache_dir())  # read when a function's cache is made
    try:
        for name, module in list(sys.modules.items()):
            if module is None or name.partition(".")[0] != "umap":
                continue
            for value in list(vars(module).values()):
                if (isinstance(value, Dispatcher) and isinstance(value._cache, NullCache)
                        and value.py_func.__module__.partition(".")[0] == "umap"):
                    value.enable_caching()
    finally:
        numba.config.CACHE_DIR = chosen


def prepared_rows(X: np.ndarray, metric: str) -> np.ndarray:
    """Rows as `nearest_rows` takes them: float32, contiguous, and of unit length for "cosine"."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if metric == "cosine":
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    return X


def nearest_rows(query: np.ndarray, fitted: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances) of the k rows of `fitted` nearest to each row of `query` (both `prepared_rows`), nearest
    first and exact: a matrix product and torch's top-k, on every core. Cosine distance is 1 - cosine similarity, as
    umap-learn measures it."""
    import torch

    queries, rows = torch.from_numpy(query), torch.from_numpy(fitted)
    if metric == "cosine":
        similarity, neighbours = torch.topk(queries @ rows.T, k, dim=1)
        distances = (1.0 - similarity).clamp_(min=0.0)
    else:
        distances, neighbours = torch.topk(torch.cdist(queries, rows), k, dim=1, largest=False)
    return neighbours.numpy(), distances.numpy()


def exact_neighbors(X: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k nearest rows of X (itself among them) as umap-learn's `precomputed_knn` takes them, PLACE_BLOCK
    rows at a time."""
    rows = prepared_rows(X, metric)
    found = [nearest_rows(rows[start:start + PLACE_BLOCK], rows, k, metric)
             for start in range(0, len(rows), PLACE_BLOCK)]
    return (np.concatenate([indices for indices, _ in found]).astype(np.int32),
            np.concatenate([distances for _, distances in found]).astype(np.float32))


class NeighbourSearch:
    """The `n_neighbors` fitted rows nearest to each row, exact (a matrix product and torch's top-k, on every core),
    PLACE_BLOCK rows at a time. Row-wise and picklable, so a RowMap can run it in parallel blocks; it returns one
    array (indices and distances side by side, as floats, which hold indices exactly) because a RowMap carries one,
    and `unpack` splits it."""

    def __init__(self, fitted: np.ndarray, metric: str = "cosine", n_neighbors: int = PLACE_NEIGHBORS) -> None:
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"Rows can be placed by cosine or euclidean distance, not {metric!r}.")
        self.metric = metric
        self.fitted = prepared_rows(np.asarray(fitted), metric)
        self.n_neighbors = min(n_neighbors, len(self.fitted))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """[indices | distances] of each row's nearest fitted rows, nearest first."""
        X = as_matrix(X)
        found = [nearest_rows(prepared_rows(X[start:start + PLACE_BLOCK], self.metric), self.fitted,
                              self.n_neighbors, self.metric) for start in range(0, len(X), PLACE_BLOCK)]
        return np.concatenate([np.hstack([indices, distances]) for indices, distances in found]
                              or [np.zeros((0, 2 * self.n_neighbors))]).astype(np.float64)

    def unpack(self, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(indices, distances) from what `__call__` returned."""
        return found[:, :self.n_neighbors].astype(np.int64), found[:, self.n_neighbors:].astype(np.float32)


class SampleNeighbours:
    """The neighbour searches a run's two UMAPs (5-d for clustering, 2-d for the map) both need, done once: the
    seeded sample of at most `fit_sample` rows UMAP is fitted on, each sample row's nearest sample rows, and each
    other row's PLACE_NEIGHBORS nearest sample rows (through `row_map`: here, or in parallel on a cluster). Both
    UMAPs take the same sample for the same seed, so at 100,000 rows the map no longer repeats the searches.

    Learned: `fitted_` (the sample's rows), `n_neighbors_` (n_neighbors clipped below the sample's size),
    `sample_knn_` ((indices, distances) within the sample, exact, above EXACT_NEIGHBORS_ABOVE rows; None below,
    where umap-learn searches itself), `rest_` (the other rows), `rest_neighbours_` and `rest_distances_`.
    """

    def __init__(self, n_neighbors: int = 15, metric: str = "cosine", seed: int = 42,
                 fit_sample: int | None = FIT_SAMPLE, row_map: RowMap = in_process) -> None:
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.seed = seed
        self.fit_sample = fit_sample
        self.row_map = row_map

    def fit(self, X: np.ndarray) -> "SampleNeighbours":
        """Pick the sample and search the neighbours of its rows and of the other rows of X."""
        X = as_matrix(X)
        self.n_rows_ = len(X)
        self.fitted_ = fit_rows(len(X), self.fit_sample, self.seed)
        self.n_neighbors_ = max(2, min(self.n_neighbors, len(self.fitted_) - 1))
        self.sample_knn_ = None
        if len(self.fitted_) > EXACT_NEIGHBORS_ABOVE and self.metric in ("cosine", "euclidean"):
            self.sample_knn_ = exact_neighbors(X[self.fitted_], self.n_neighbors_, self.metric)
        self.rest_ = np.setdiff1d(np.arange(len(X)), self.fitted_, assume_unique=True)
        self.rest_neighbours_ = self.rest_distances_ = None
        if len(self.rest_):
            search = NeighbourSearch(X[self.fitted_], self.metric)
            self.rest_neighbours_, self.rest_distances_ = search.unpack(self.row_map(search, X[self.rest_]))
        return self

    def check(self, X: np.ndarray, n_neighbors: int, metric: str, seed: int, fit_sample: int | None) -> None:
        """Refuse to stand in for another search: these neighbours are of X's rows, with these settings."""
        wanted = (len(X), n_neighbors, metric, seed, fit_sample)
        found = (self.n_rows_, self.n_neighbors, self.metric, self.seed, self.fit_sample)
        if wanted != found:
            raise ValueError(f"The neighbours were searched for (rows, n_neighbors, metric, seed, fit_sample) = "
                             f"{found}, not {wanted}.")


def _umap(X: np.ndarray, *, n_components: int, n_neighbors: int, min_dist: float, metric: str, seed: int,
          fit_sample: int | None = None, row_map: RowMap = in_process,
          neighbours: SampleNeighbours | None = None) -> tuple[np.ndarray, UMAPPlacement]:
    """(UMAP coordinates of every row, a placement for new rows) with n_neighbors clipped to the data (it must stay
    below the number of points); above `fit_sample` rows UMAP is fitted on a sample and the other rows are placed.
    `neighbours`: the searches done already for these rows and settings (else they are done here)."""
    import umap

    cache_umap_compiles()
    if neighbours is None:
        neighbours = SampleNeighbours(n_neighbors, metric, seed, fit_sample, row_map).fit(X)
    neighbours.check(X, n_neighbors, metric, seed, fit_sample)
    fitted = neighbours.fitted_
    known = (None, None, None) if neighbours.sample_knn_ is None else (*neighbours.sample_knn_, None)
    # n_jobs=1 because a fixed random_state makes UMAP single-threaded anyway (it warns otherwise).
    model = umap.UMAP(n_components=n_components, n_neighbors=neighbours.n_neighbors_, min_dist=min_dist,
                      metric=metric, random_state=seed, n_jobs=1, precomputed_knn=known)
    with warnings.catch_warnings():  # its warning that `transform` needs NN-descent: rows are placed by UMAPPlacement
        warnings.filterwarnings("ignore", message="precomputed_knn")
        if len(fitted) == len(X):
            coordinates = np.asarray(model.fit_transform(X), dtype=float)
            return coordinates, UMAPPlacement(X, coordinates, metric)
        coordinates = np.empty((len(X), n_components), dtype=float)
        coordinates[fitted] = model.fit(X[fitted]).embedding_
    placement = UMAPPlacement(X[fitted], coordinates[fitted], metric)
    coordinates[neighbours.rest_] = placement.place(neighbours.rest_neighbours_, neighbours.rest_distances_)
    return coordinates, placement


class UMAPPlacement:
    """Places new rows in a fitted UMAP layout: each row goes to the mean of the coordinates of its PLACE_NEIGHBORS
    nearest fitted rows, weighted as UMAP weighs graph edges (exp(-d / sigma), sigma fitted per row). That is where
    umap-learn's own `transform` starts before it optimises; its optimisation is skipped because its epochs and
    pruning depend on how many rows come at once, and here a row's place must not depend on its block.

    Holds the fitted rows (in its `search`) and their coordinates; picklable, so a Ray actor can hold one."""

    def __init__(self, fitted: np.ndarray, coordinates: np.ndarray, metric: str = "cosine",
                 n_neighbors: int = PLACE_NEIGHBORS) -> None:
        self.search = NeighbourSearch(fitted, metric, n_neighbors)
        self.coordinates = np.asarray(coordinates, dtype=float)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Coordinates of the rows of X."""
        return self.place(*self.search.unpack(self.search(X)))

    def place(self, neighbours: np.ndarray, distances: np.ndarray) -> np.ndarray:
        """Coordinates of rows whose nearest fitted rows (`NeighbourSearch`) are known."""
        from umap.umap_ import smooth_knn_dist

        if not len(neighbours):
            return np.zeros((0, self.coordinates.shape[1]))
        cache_umap_compiles()
        distances = np.ascontiguousarray(distances, dtype=np.float32)
        sigmas, _ = smooth_knn_dist(distances, float(neighbours.shape[1]), local_connectivity=0.0)
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
    `row_map`: here, or in parallel on a cluster); `neighbours`, a fitted SampleNeighbours of the same rows and
    settings, saves its searches when the 2-d map shares them. Learned:
    `embedding_` (the coordinates of every row of X) and `placement_` (a UMAPPlacement, for `transform`; None when
    UMAP could not run).

    Fallback: with n <= n_components + 1 points UMAP cannot run; the input is returned unchanged, which is what the
    clustering would see without reduction.
    """

    def __init__(self, n_components: int = 5, n_neighbors: int = 15, min_dist: float = 0.0, metric: str = "cosine",
                 seed: int = 42, fit_sample: int | None = FIT_SAMPLE, row_map: RowMap = in_process,
                 neighbours: SampleNeighbours | None = None) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.seed = seed
        self.fit_sample = fit_sample
        self.row_map = row_map
        self.neighbours = neighbours

    def fit(self, X: np.ndarray) -> "UMAPReducer":
        """Learn the reduced coordinates of X into `embedding_`."""
        X = as_matrix(X)
        if len(X) <= self.n_components + 1:
            self.embedding_, self.placement_ = X.copy(), None
        else:
            self.embedding_, self.placement_ = _umap(X, n_components=self.n_components, n_neighbors=self.n_neighbors,
                                                     min_dist=self.min_dist, metric=self.metric, seed=self.seed,
                                                     fit_sample=self.fit_sample, row_map=self.row_map,
                                                     neighbours=self.neighbours)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Coordinates of new rows in the learned layout (the rows themselves when UMAP could not run)."""
        X = as_matrix(X)
        return X.copy() if self.placement_ is None else self.placement_(X)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """The reduced coordinates of X, one row per input row."""
        return self.fit(X).embedding_


def project_2d(X: np.ndarray, seed: int = 42, metric: str = "cosine", fit_sample: int | None = FIT_SAMPLE,
               row_map: RowMap = in_process, neighbours: SampleNeighbours | None = None) -> np.ndarray:
    """2-d coordinates for the scatter plot: UMAP with min_dist=0.1 so points do not pile up (fitted on a sample of
    `fit_sample` rows when there are more; `neighbours`: the searches the 5-d reduction of the same rows did).

    Fallback: with 3 points or fewer UMAP cannot run, so the first two principal coordinates are used.
    """
    X = as_matrix(X)
    if len(X) <= 3:
        return _pca_2d(X)
    return _umap(X, n_components=2, n_neighbors=15, min_dist=0.1, metric=metric, seed=seed, fit_sample=fit_sample,
                 row_map=row_map, neighbours=neighbours)[0]
