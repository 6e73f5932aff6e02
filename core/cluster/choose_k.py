"""Choosing the number of clusters: fit every k in a range and keep the one with the highest silhouette, checked
against the silhouette before reduction when the clustered space is a reduction (UMAP) of the embeddings."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
from sklearn.metrics import pairwise_distances, silhouette_score

from core.errors import SettingsError
from core.metrics import NOISE, silhouette

CURVE_SAMPLE = 3000
MAX_CANDIDATES = 24
REFINE_POINTS = 8
CHECK_RATIO = 0.7
"""A k is eligible only if its cosine silhouette before reduction is at least this share of the best candidate's.

UMAP can lay a small topic out as a far island, and the silhouette in its space then prefers k = 2 (the bundled
support sample: k = 2, ACC 20, on 2 of 3 UMAP seeds, against k = 10, ACC 96). Before reduction that k's silhouette
is 0.59-0.60 of the best; on every other train/val task measured (Bank77 train, CLINC150 val, and 5-, 10- and
20-intent subsets of both; 3 seeds) the UMAP-space choice had at least 0.81, so any ratio from 0.61 to 0.80 fixes
the first without moving the others (bench_results/k-choice.md). The silhouette before reduction is not the
criterion itself: it overshoots, e.g. k = 37 for 10 Bank77 intents."""


def k_candidates(k_range: tuple[int, int], n: int) -> range:
    """The k values to try: k_range clipped to [2, n - 1], the values for which a silhouette exists."""
    if n < 3:
        raise SettingsError(f"Choosing the number of clusters automatically needs at least 3 rows; this data has {n}. "
                            "Set the number of clusters instead.")
    low, high = k_range
    if low > high:
        raise SettingsError(f"The range of k to try is empty: its minimum ({low}) is above its maximum ({high}). "
                            "Swap the two values.")
    low, high = (min(max(value, 2), n - 1) for value in (low, high))
    return range(low, high + 1)


def silhouette_curve(X: np.ndarray, label_at: Callable[[int], np.ndarray], ks: Iterable[int], *,
                     seed: int = 0, metric: str = "euclidean") -> dict[int, float]:
    """Silhouette of the clustering `label_at(k)` for each k (nan where undefined, e.g. duplicate points).

    Above CURVE_SAMPLE points every k is scored on the same seeded sample: a paired comparison that is accurate to
    about 0.01 and keeps a 20-value curve on 15,000 points to seconds instead of minutes. The sample's distances are
    computed once for every k (only the labels change): at 100,000 texts that was half of the k search's time.
    """
    X = np.asarray(X, dtype=float)
    rows = np.arange(len(X))
    if len(X) > CURVE_SAMPLE:
        rows = np.random.default_rng(seed).choice(len(X), size=CURVE_SAMPLE, replace=False)  # as `silhouette` picks
    distances: np.ndarray | None = None
    curve = {}
    for k in ks:
        labels = np.asarray(label_at(k))
        if (labels == NOISE).any():  # the rows left to score depend on the labels: no shared sample
            curve[int(k)] = silhouette(X, labels, metric=metric, sample_size=CURVE_SAMPLE, seed=seed)
            continue
        if distances is None:
            distances = pairwise_distances(X[rows], metric=metric)
            np.fill_diagonal(distances, 0.0)  # exactly, as a precomputed matrix must be
        picked = labels[rows]
        defined = 2 <= len(np.unique(picked)) < len(picked)
        curve[int(k)] = float(silhouette_score(distances, picked, metric="precomputed")) if defined else math.nan
    return curve


def search_k(X: np.ndarray, label_at: Callable[[int], np.ndarray], k_range: tuple[int, int], *,
             seed: int = 0, unreduced: np.ndarray | None = None) -> tuple[dict[int, float], dict[int, float] | None]:
    """Silhouette curve over k_range, and when `unreduced` (X before reduction, row for row) is given the cosine
    silhouette there of the same clusterings (see CHECK_RATIO); None otherwise.

    Every k is scored when the range is short, else the search goes coarse to fine: a wide range (say 2-200 for a
    few thousand texts) is first scored on ~MAX_CANDIDATES geometrically spaced values, then every k between the
    chosen one's neighbours on that grid is scored too, so the curve stays affordable while the chosen k is exact
    around its peak.
    """
    ks = k_candidates(k_range, len(X))
    coarse = ks if len(ks) <= MAX_CANDIDATES else sorted(
        {int(round(k)) for k in np.geomspace(ks.start, ks.stop - 1, MAX_CANDIDATES)})

    def score(candidates: Iterable[int]) -> tuple[dict[int, float], dict[int, float] | None]:
        candidates = list(candidates)
        checked = None if unreduced is None else silhouette_curve(unreduced, label_at, candidates, seed=seed,
                                                                  metric="cosine")
        return silhouette_curve(X, label_at, candidates, seed=seed), checked

    curve, checked = score(coarse)
    if len(ks) > MAX_CANDIDATES:
        peak = coarse.index(best_k(curve, checked))
        low, high = coarse[max(peak - 1, 0)], coarse[min(peak + 1, len(coarse) - 1)]
        fine = np.unique(np.linspace(low, high, REFINE_POINTS + 2).round().astype(int))
        fine_curve, fine_checked = score(int(k) for k in fine if k not in curve)
        curve.update(fine_curve)
        if checked is not None:
            checked.update(fine_checked)
    return dict(sorted(curve.items())), None if checked is None else dict(sorted(checked.items()))


def default_k_range(n: int) -> tuple[int, int]:
    """The k range searched when the analyst gives no k: 2 to about n/15 (at least 20, at most 300).

    Short-text benchmarks have one class per 20-40 texts (Bank77: 3,080 texts, 77 intents), so a fixed 2-20 would
    never reach the right granularity; on 5-d UMAP output the silhouette peaks near the true k (77 on Bank77).
    """
    return 2, max(2, min(n - 1, max(20, min(300, n // 15))))


def best_k(curve: dict[int, float], checked: dict[int, float] | None = None) -> int:
    """The k with the highest silhouette, the smallest such k on ties; the smallest k when none is defined.

    With `checked` ({k: silhouette before reduction}), only the k whose checked silhouette reaches CHECK_RATIO of the
    best checked one compete (all of them when no checked silhouette is positive)."""
    defined = {k: score for k, score in curve.items() if not math.isnan(score)}
    if not defined:
        return min(curve)
    if checked:
        top = max((score for score in checked.values() if not math.isnan(score)), default=math.nan)
        eligible = {k: score for k, score in defined.items() if checked.get(k, math.nan) >= CHECK_RATIO * top}
        if top > 0 and eligible:
            defined = eligible
    return max(defined, key=lambda k: (defined[k], -k))
