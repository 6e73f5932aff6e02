"""Clustering small groups without a k: average-link agglomeration on cosine distance, cut at a distance threshold,
the threshold chosen on labelled groups (CACTUS's prediction step).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from core.cluster.algorithms import by_size
from core.errors import SettingsError
from core.metrics import ami, ari

THRESHOLDS = np.round(np.arange(0.02, 1.5, 0.01), 2)
"""Cosine distances tried when choosing a threshold (cosine distance lies in [0, 2])."""


def group_linkage(X: np.ndarray, method: str = "average") -> np.ndarray | None:
    """The scipy linkage of one group's vectors on cosine distance; None for a group of one."""
    X = np.asarray(X, dtype=np.float64)
    if len(X) < 2:
        return None
    return linkage(X, method=method, metric="cosine")


def cut_at(tree: np.ndarray | None, threshold: float, n: int) -> np.ndarray:
    """Labels (0 = biggest cluster) of the clusters left when merges above `threshold` are undone."""
    if tree is None:
        return np.zeros(n, dtype=np.int64)
    return by_size(fcluster(np.clip(tree, 0.0, None), t=threshold, criterion="distance"))


def cluster_by_threshold(X: np.ndarray, threshold: float, method: str = "average") -> np.ndarray:
    """Average-link agglomerative clustering of one group on cosine distance, cut at `threshold`."""
    return cut_at(group_linkage(X, method), threshold, len(X))


def score_groups(predicted: Sequence[np.ndarray], truths: Sequence[Sequence[object]]) -> list[dict[str, float]]:
    """AMI and ARI of each group's predicted clustering against the known one (fractions, not percent)."""
    return [{"ami": ami(truth, labels), "ari": ari(truth, labels)} for labels, truth in zip(predicted, truths)]


def choose_threshold(embeddings: Sequence[np.ndarray], truths: Sequence[Sequence[object]], *,
                     candidates: np.ndarray = THRESHOLDS, method: str = "average") -> tuple[float, dict[float, float]]:
    """The threshold with the best mean AMI over labelled groups, and the curve {threshold: mean AMI}.

    Each group's tree is built once; thresholds that undo the same merges give the same clustering, which is scored
    once. Ties go to the smallest threshold.
    """
    if not len(embeddings):
        raise SettingsError("Choosing a threshold needs at least one labelled group.")
    table = np.zeros((len(embeddings), len(candidates)))
    for row, (X, truth) in enumerate(zip(embeddings, truths)):
        tree = group_linkage(X, method)
        merges = np.searchsorted(np.clip(tree[:, 2], 0.0, None), candidates, side="right") if tree is not None \
            else np.zeros(len(candidates), dtype=int)
        scored: dict[int, float] = {}
        for column, (threshold, done) in enumerate(zip(candidates, merges)):
            if done not in scored:
                scored[done] = ami(truth, cut_at(tree, float(threshold), len(X)))
            table[row, column] = scored[done]
    curve = {float(t): float(score) for t, score in zip(candidates, table.mean(axis=0))}
    best = max(curve, key=lambda t: (curve[t], -t))
    return best, curve
