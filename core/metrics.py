"""Clustering scores, one function each, as fractions in [0, 1] (not percent).

Internal scores (silhouette, Calinski-Harabasz, Davies-Bouldin) judge a clustering from the data alone and leave
HDBSCAN's noise points (label -1) out. External scores (ACC, NMI, ARI, AMI) compare with known classes; there the
noise points count as one more cluster, as BERTopic's outlier topic does.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm

INTERNAL_METRICS: tuple[str, ...] = ("silhouette", "calinski_harabasz", "davies_bouldin")
EXTERNAL_METRICS: tuple[str, ...] = ("acc", "nmi", "ari", "ami")
HIGHER_IS_BETTER: dict[str, bool] = {
    "silhouette": True, "calinski_harabasz": True, "davies_bouldin": False,
    "acc": True, "nmi": True, "ari": True, "ami": True,
}
METRIC_INFO: dict[str, tuple[str, str]] = {
    "acc": ("ACC", "Share of rows in the right cluster when each cluster is matched to one known class (0-100)."),
    "nmi": ("NMI", "How much knowing the cluster tells about the known class, and back (0-100)."),
    "ari": ("ARI", "Agreement of every pair of rows (same or different cluster) with the classes, corrected for "
                   "chance (0 = chance, 100 = identical)."),
    "ami": ("AMI", "NMI corrected for chance (0 = chance, 100 = identical)."),
    "silhouette": ("Silhouette", "How much closer rows are to their own cluster than to the next one (-100 to 100; "
                                 "no labels needed)."),
    "calinski_harabasz": ("Calinski-Harabasz", "Spread between clusters over spread within them (higher is "
                                               "tighter; no labels needed)."),
    "davies_bouldin": ("Davies-Bouldin", "How much each cluster overlaps its most similar one (lower is better; no "
                                         "labels needed)."),
}
"""Each score's short name and one line on what it measures, for every screen that shows scores."""
PERCENT_METRICS: tuple[str, ...] = ("acc", "nmi", "ari", "ami", "silhouette")
"""Scores that are fractions in the library and shown on a 0-100 scale everywhere else (README, bench, pages)."""
NOISE = -1
SILHOUETTE_SAMPLE = 10_000  # above this many points the silhouette is computed on a seeded sample (it is O(n²))


def _codes(labels: Sequence | np.ndarray) -> np.ndarray:
    """Labels of any type (ints, strings) as codes 0..m-1."""
    return np.unique(np.asarray(labels), return_inverse=True)[1].ravel()


def _pair(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    true, pred = _codes(y_true), _codes(y_pred)
    if len(true) != len(pred):
        raise ValueError(f"y_true has {len(true)} labels but y_pred has {len(pred)}.")
    return true, pred


def clustering_accuracy(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray) -> float:
    """Share of points whose cluster maps to their class under the best one-to-one mapping (Hungarian).

    Works with any label types and with more or fewer clusters than classes: unmatched clusters count as wrong.
    """
    true, pred = _pair(y_true, y_pred)
    if len(true) == 0:
        return math.nan
    contingency = np.zeros((true.max() + 1, pred.max() + 1), dtype=np.int64)
    np.add.at(contingency, (true, pred), 1)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    return float(contingency[rows, cols].sum() / len(true))


def nmi(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray) -> float:
    """Normalised mutual information (arithmetic mean normalisation, as in sklearn)."""
    return float(skm.normalized_mutual_info_score(*_pair(y_true, y_pred)))


def ari(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray) -> float:
    """Adjusted Rand index: 1 for identical partitions, about 0 for chance."""
    return float(skm.adjusted_rand_score(*_pair(y_true, y_pred)))


def ami(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray) -> float:
    """Adjusted mutual information: NMI corrected for chance."""
    return float(skm.adjusted_mutual_info_score(*_pair(y_true, y_pred)))


def _without_noise(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """X and labels without noise points, or None when the internal scores are undefined.

    They are undefined with fewer than two clusters or when every point is its own cluster.
    """
    labels = np.asarray(labels)
    X = np.asarray(X, dtype=float)
    if len(X) != len(labels):
        raise ValueError(f"X has {len(X)} rows but there are {len(labels)} labels.")
    keep = labels != NOISE
    X, labels = X[keep], labels[keep]
    n_clusters = len(np.unique(labels))
    if n_clusters < 2 or n_clusters >= len(labels):
        return None
    return X, labels


def silhouette(X: np.ndarray, labels: np.ndarray, *, metric: str = "euclidean", sample_size: int | None = None,
               seed: int = 0) -> float:
    """Mean silhouette in [-1, 1]; nan when undefined. Above SILHOUETTE_SAMPLE points a seeded sample is used."""
    kept = _without_noise(X, labels)
    if kept is None:
        return math.nan
    X, labels = kept
    size = sample_size if sample_size is not None else (SILHOUETTE_SAMPLE if len(X) > SILHOUETTE_SAMPLE else None)
    if size is not None and size < len(X):
        picked = np.random.default_rng(seed).choice(len(X), size=size, replace=False)
        X, labels = X[picked], labels[picked]
        if not 2 <= len(np.unique(labels)) < len(labels):
            return math.nan
    return float(skm.silhouette_score(X, labels, metric=metric))


def _internal(score: Callable[[np.ndarray, np.ndarray], float], X: np.ndarray, labels: np.ndarray) -> float:
    kept = _without_noise(X, labels)
    return math.nan if kept is None else float(score(*kept))


def calinski_harabasz(X: np.ndarray, labels: np.ndarray) -> float:
    """Between- over within-cluster dispersion (higher is better, unbounded); nan when undefined."""
    return _internal(skm.calinski_harabasz_score, X, labels)


def davies_bouldin(X: np.ndarray, labels: np.ndarray) -> float:
    """Mean similarity of each cluster to its most similar one (lower is better); nan when undefined."""
    return _internal(skm.davies_bouldin_score, X, labels)


def score_clustering(X: np.ndarray, labels: np.ndarray, y_true: Sequence | np.ndarray | None = None, *,
                     metric: str = "euclidean") -> dict[str, float]:
    """All internal scores, and the external ones when known classes are given."""
    scores = {
        "silhouette": silhouette(X, labels, metric=metric),
        "calinski_harabasz": calinski_harabasz(X, labels),
        "davies_bouldin": davies_bouldin(X, labels),
    }
    if y_true is not None:
        scores.update(acc=clustering_accuracy(y_true, labels), nmi=nmi(y_true, labels), ari=ari(y_true, labels),
                      ami=ami(y_true, labels))
    return scores


def mean_std(runs: list[dict[str, float]], *, scale: float = 1.0) -> dict[str, tuple[float, float]]:
    """Mean and population standard deviation (ddof=0) of each score over runs, nan values left out.

    `scale=100` reports percentages, as the papers' tables do. A score that is nan in every run gives (nan, nan).
    """
    names = list(dict.fromkeys(name for run in runs for name in run))
    summary = {}
    for name in names:
        values = np.array([run[name] for run in runs if name in run], dtype=float)
        values = values[~np.isnan(values)]
        if len(values) == 0:
            summary[name] = (math.nan, math.nan)
        else:
            summary[name] = (float(values.mean() * scale), float(values.std() * scale))
    return summary


def as_shown(name: str, value: float | None) -> float | None:
    """A score on the scale people read: fractions as 0-100 (rounded to 0.1), the unbounded ones as they are."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(100 * value, 1) if name in PERCENT_METRICS else round(float(value), 3)
