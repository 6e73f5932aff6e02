"""The shared tail of every method: (reduce) -> cluster -> score. Used by runs and by the benchmark alike."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.cluster import Clusterer, SampleNeighbours, UMAPReducer
from core.cluster.reduce import RowMap, in_process
from core.cluster.choose_k import default_k_range
from core.errors import SettingsError
from core.metrics import mean_std, score_clustering
from core.progress import ProgressFn, no_progress
from core.settings import ClusteringSettings

REDUCTIONS = ("auto", "umap", "none")
REPORTED = ("acc", "nmi", "ari", "ami", "silhouette")
PROTOCOL_N_INIT = 1  # scikit-learn's default single k-means++ start, as in the papers' evaluation scripts


@dataclass
class ClusteringOutcome:
    """Labels and scores of one clustering; `space` is what was clustered (the UMAP output or the input)."""

    labels: np.ndarray
    n_clusters: int
    space: np.ndarray
    metrics: dict[str, float]
    k_curve: dict[int, float] | None
    noise_fraction: float
    k_curve_unreduced: dict[int, float] | None = None


def uses_umap(settings: ClusteringSettings, kind: str) -> bool:
    """Whether to reduce first: "auto" reduces texts (worth 4-8 ACC points on short texts) but not tables."""
    if settings.reduce not in REDUCTIONS:
        raise SettingsError(f"reduce must be one of {', '.join(REDUCTIONS)}, not {settings.reduce!r}.")
    return settings.reduce == "umap" or (settings.reduce == "auto" and kind == "text")


def clustering_space(embeddings: np.ndarray, settings: ClusteringSettings, kind: str, seed: int,
                     row_map: RowMap = in_process, neighbours: SampleNeighbours | None = None) -> np.ndarray:
    """The space k-means & co. see: 5-d cosine UMAP of the embeddings, or the embeddings themselves. `neighbours`:
    the embeddings' sample neighbours (`SampleNeighbours` for `seed` and the settings' fit_sample), when the run
    shares them with its 2-d map."""
    if uses_umap(settings, kind) and embeddings.shape[1] > settings.reduce_components:
        return UMAPReducer(n_components=settings.reduce_components, seed=seed, fit_sample=settings.fit_sample,
                           row_map=row_map, neighbours=neighbours).fit_transform(embeddings)
    return embeddings


def cluster_and_score(space: np.ndarray, settings: ClusteringSettings, *, y_true: np.ndarray | None = None,
                      n_clusters: int | None = None, seed: int | None = None, row_map: RowMap = in_process,
                      embeddings: np.ndarray | None = None) -> ClusteringOutcome:
    """Cluster an already-reduced space with the settings' algorithm and score the result. `embeddings`: what the
    space was reduced from, against which a k chosen by silhouette is checked (`Clusterer.fit`'s `unreduced`)."""
    clusterer = Clusterer(
        settings.algorithm,
        n_clusters if n_clusters is not None else settings.n_clusters,
        k_range=None if settings.k_max is None else (settings.k_min, settings.k_max),
        linkage=settings.linkage,
        seed=settings.seed if seed is None else seed,
        min_cluster_size=settings.min_cluster_size,
        n_init=settings.n_init,
        fit_sample=settings.fit_sample,
        search_sample=settings.search_sample,
        row_map=row_map,
    ).fit(space, unreduced=None if embeddings is space else embeddings)
    metrics = score_clustering(space, clusterer.labels_, y_true)
    return ClusteringOutcome(clusterer.labels_, clusterer.n_clusters_, space, metrics, clusterer.k_curve_,
                             clusterer.noise_fraction_, clusterer.k_curve_unreduced_)


@dataclass(frozen=True)
class KChoice:
    """How many clusters a run makes and why: the analyst's k, the method's own choice inside the analyst's range, or
    the silhouette's (k None: the clusterer searches `k_range`). `note` says, in words, when a method's choice was
    overruled by the range."""

    k: int | None
    source: str
    k_range: tuple[int, int]
    method_k: int | None = None
    note: str = ""


def k_range_of(settings: ClusteringSettings, n_rows: int) -> tuple[int, int]:
    """The k range an analyst's settings allow: theirs, or the default for the data size."""
    _, high = default_k_range(n_rows)
    return max(settings.k_min, 2), max(settings.k_max or high, 2)


def choose_k(settings: ClusteringSettings, n_rows: int, method_k: int | None = None,
             method_scores: Mapping[int, float] | None = None, method_label: str = "The method") -> KChoice:
    """The k to cluster at. The analyst's k wins; a method's own k is kept inside the analyst's range (or the
    default range): outside it, the method's best-scoring k inside the range (when it gave scores) or the silhouette's
    is used, and the note says so."""
    k_range = k_range_of(settings, n_rows)
    if settings.n_clusters:
        return KChoice(settings.n_clusters, "setting", k_range, method_k)
    if method_k is None or settings.algorithm == "hdbscan":
        return KChoice(None, "silhouette", k_range, method_k)
    low, high = k_range
    if low <= method_k <= high:
        return KChoice(method_k, "method", k_range, method_k)
    inside = {int(k): score for k, score in (method_scores or {}).items() if low <= int(k) <= high}
    if inside:
        best = max(inside, key=lambda k: (inside[k], -k))
        return KChoice(best, "method", k_range, method_k,
                       f"{method_label} preferred k = {method_k}, outside the range {low}-{high}; its best k inside "
                       f"the range is {best}.")
    return KChoice(None, "silhouette", k_range, method_k,
                   f"{method_label} preferred k = {method_k}, outside the range {low}-{high}; k was chosen by "
                   "silhouette inside the range instead.")


def score_over_seeds(embeddings: np.ndarray, truth: np.ndarray, *, k: int | None, kind: str, reduce: str,
                     seeds: Sequence[int], algorithm: str = "kmeans", k_range: tuple[int, int] | None = None,
                     progress: ProgressFn = no_progress) -> tuple[dict[str, list[float]], list[int]]:
    """Cluster once per seed (UMAP re-run per seed when reducing) at k, or k chosen by silhouette when k is None.

    Returns the metrics as [mean, std] on a 0-100 scale and the number of clusters found per seed.
    """
    runs, found = [], []
    for index, seed in enumerate(seeds):
        progress("cluster", index / len(seeds), f"Seed {seed} ({index + 1}/{len(seeds)})")
        low, high = k_range or (2, None)
        settings = ClusteringSettings(algorithm=algorithm, n_clusters=k, k_min=low, k_max=high, reduce=reduce,
                                      n_init=PROTOCOL_N_INIT, seed=seed)
        space = clustering_space(embeddings, settings, kind, seed)
        outcome = cluster_and_score(space, settings, y_true=truth, seed=seed, embeddings=embeddings)
        runs.append(outcome.metrics)
        found.append(outcome.n_clusters)
    summary = mean_std(runs, scale=100.0)
    metrics = {name: [round(float(summary[name][0]), 2), round(float(summary[name][1]), 2)] for name in REPORTED
               if name in summary}
    return metrics, found
