"""Which questions ClusterLLM asks: entropy-based (or random) triplets, and pairs across the merges of a cluster tree,
plus the F-beta curve that turns the judge's pair answers into a number of clusters (arXiv 2305.14871, §3-4)."""
from __future__ import annotations

import numpy as np
from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans
from sklearn.metrics import fbeta_score
from sklearn.preprocessing import StandardScaler

from core.cluster.hierarchy import ClusterTree

SMALL_SET = 3000  # up to this many rows the sampling clusters are agglomerative (as the authors do), above k-means
MAX_IDLE_PASSES = 20  # passes over the anchors that may add no new triplet before sampling gives up
MAX_PAIRS_PER_STEP = 20  # most pair questions at one merge of the granularity tree


def sampling_clusters(X: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """Cluster labels for sampling: Ward agglomerative for small sets, MiniBatchKMeans for large ones."""
    if len(X) <= SMALL_SET:
        return AgglomerativeClustering(n_clusters=n_clusters, linkage="ward").fit_predict(X)
    return MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=3).fit_predict(X)


def assignment_entropy(X: np.ndarray, centres: np.ndarray, n_closest: int) -> tuple[np.ndarray, np.ndarray]:
    """(entropy of each row's soft assignment over its `n_closest` clusters, those clusters' indices, closest first).

    Soft assignment p ∝ (1 + d²)⁻¹ to every centre (Student-t kernel), renormalised over the closest clusters.
    """
    d2 = np.square(X[:, None, :] - centres[None, :, :]).sum(axis=-1)
    p = 1.0 / (1.0 + d2)
    closest = np.argsort(-p, axis=1, kind="stable")[:, :n_closest]
    q = np.take_along_axis(p, closest, axis=1)
    q /= q.sum(axis=1, keepdims=True)
    return -(q * np.log(q)).sum(axis=1), closest


def triplets_by_entropy(X: np.ndarray, n_triplets: int = 1024, *, n_clusters: int = 100, anchor_share: float = 0.2,
                        close_share: float = 0.02, seed: int = 0) -> np.ndarray:
    """(anchor, choice 1, choice 2) row indices, anchors the rows most torn between their nearby clusters.

    Standardise, cluster (n_clusters, at most a fifth of the rows), take the top `anchor_share` rows by entropy over
    their max(2, round(close_share·K)) closest clusters; for each anchor pick two of those clusters and one random
    member of each; drop duplicates and self-references; randomise the choice order; pass over the anchors again
    until `n_triplets` are found (or passes stop adding new ones).
    """
    rng = np.random.default_rng(seed)
    X = StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))
    k = int(min(n_clusters, max(2, len(X) // 5)))
    labels = sampling_clusters(X, k, seed)
    k = int(labels.max()) + 1
    members = [np.flatnonzero(labels == c) for c in range(k)]
    centres = np.stack([X[m].mean(axis=0) for m in members])
    entropy, closest = assignment_entropy(X, centres, max(2, round(close_share * k)))
    anchors = np.argsort(-entropy, kind="stable")[:max(1, int(len(X) * anchor_share))]
    return _collect(n_triplets, rng, lambda anchor: _nearby_triplet(anchor, closest[anchor], members, rng), anchors)


def random_triplets(n_rows: int, n_triplets: int = 1024, *, seed: int = 0) -> np.ndarray:
    """(anchor, choice 1, choice 2) drawn uniformly: the paper's comparison for entropy-based sampling."""
    rng = np.random.default_rng(seed)
    if n_rows < 3:
        return np.zeros((0, 3), dtype=np.int64)
    anchors = np.arange(n_rows)
    return _collect(n_triplets, rng, lambda _: rng.choice(n_rows, 3, replace=False), anchors, shuffle=True)


def _nearby_triplet(anchor: int, clusters: np.ndarray, members: list[np.ndarray],
                    rng: np.random.Generator) -> np.ndarray:
    first, second = rng.choice(clusters, 2, replace=False)
    return np.array([anchor, rng.choice(members[first]), rng.choice(members[second])])


def _collect(n_triplets: int, rng: np.random.Generator, draw, anchors: np.ndarray, shuffle: bool = False) -> np.ndarray:
    """Draw one triplet per anchor per pass until n_triplets unique, valid ones are found; random choice order."""
    found: list[tuple[int, int, int]] = []
    seen: set[tuple[int, int, int]] = set()
    idle = 0
    while len(found) < n_triplets and idle < MAX_IDLE_PASSES:
        before = len(found)
        for anchor in (rng.permutation(anchors) if shuffle else anchors):
            a, b, c = (int(v) for v in draw(anchor))
            key = (a, min(b, c), max(b, c))
            if b == a or c == a or b == c or key in seen:
                continue
            seen.add(key)
            found.append((a, b, c) if rng.random() < 0.5 else (a, c, b))
            if len(found) >= n_triplets:
                break
        idle = idle + 1 if len(found) == before else 0
    return np.array(found, dtype=np.int64).reshape(-1, 3)


def merge_mass(tree: ClusterTree, k_max: int) -> np.ndarray:
    """How many row pairs first meet at each merge from k to k - 1 clusters, k = 2..k_max (|left|·|right|)."""
    steps = range(2, min(k_max, tree.n_leaves_) + 1)
    return np.array([len(m.left_points) * len(m.right_points) for m in map(tree.merge_step, steps)], dtype=float)


def granularity_pairs(tree: ClusterTree, k_max: int, per_step: int = 3, *, seed: int = 0,
                      by_mass: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(pairs of row indices, the k each was sampled at): `per_step` pairs across the two clusters merged when the
    tree goes from k to k - 1 clusters, for k = 2..k_max.

    With `by_mass`, a merge gets per_step·sqrt(its pairs / the median merge's), from per_step up to
    MAX_PAIRS_PER_STEP: the few coarse merges, which stand for most row pairs and decide a coarse k, are asked about
    more often than the many fine ones.
    """
    rng = np.random.default_rng(seed)
    mass = merge_mass(tree, k_max)
    counts = np.full(len(mass), per_step)
    if by_mass and len(mass):
        counts = np.clip(np.round(per_step * np.sqrt(mass / np.median(mass))), per_step,
                         max(per_step, MAX_PAIRS_PER_STEP)).astype(int)
    pairs, steps = [], []
    for k, count in zip(range(2, len(mass) + 2), counts):
        merge = tree.merge_step(k)
        for _ in range(count):
            pairs.append((int(rng.choice(merge.left_points)), int(rng.choice(merge.right_points))))
            steps.append(k)
    return np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(steps, dtype=np.int64)


def f_beta_curve(steps: np.ndarray, same: np.ndarray, ks: np.ndarray, beta: float = 0.92,
                 mass: np.ndarray | None = None) -> np.ndarray:
    """F-beta of "same cluster when the tree is cut at k" against the judge's "same category" answers, per k.

    A pair sampled at merge step s (from s to s - 1 clusters) is in one cluster exactly when k < s; the judge's
    answers are the reference, as in the authors' code. With `mass` (row pairs per merge step, k = 2.., from
    `merge_mass`) each answer stands for its step's pairs (weight mass / answers at that step), so the curve is the
    pairwise F-beta over all row pairs that meet in the tree: coarse merges count with the many pairs they join, where
    unweighted they count as much as any of the ~k_max fine ones (the argmax then drifts above a coarse k). Undecided
    answers must be removed before.
    """
    same, steps = np.asarray(same, dtype=bool), np.asarray(steps)
    weight = None
    if mass is not None:
        answers = np.bincount(steps, minlength=len(mass) + 2)
        weight = np.asarray(mass)[steps - 2] / answers[steps]
    return np.array([fbeta_score(same, steps > k, beta=beta, zero_division=0.0, sample_weight=weight) for k in ks])
