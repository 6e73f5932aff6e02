"""The person as ClusterLLM's judge: the questions whose answers would most change the clustering, a few at a time,
and a retrain after every batch of answers.

The retrain is a residual linear map on the frozen embeddings (x -> x + Wx, W starting at zero), trained on the
answers with ClusterLLM's InfoNCE in core.train's loop: seconds per batch on a CPU, where fine-tuning the transformer
takes minutes, so the person is never kept waiting between batches.

    loop = PersonLoop(n_clusters=77, clustering=ClusteringSettings(reduce="umap")).fit(embeddings)
    rows = loop.next_questions(10)         # (anchor, choice 1, choice 2) row indices, most informative first
    loop.add_answers(rows, choices)        # 1, 2, or 0 where the person could not tell
    loop.retrain()                         # new embeddings_, space_, labels_
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from core.errors import SettingsError
from core.methods.clusterllm.objective import info_nce_loss
from core.methods.clusterllm.sampling import random_triplets, triplets_by_entropy
from core.pipeline import cluster_and_score, clustering_space
from core.settings import ClusteringSettings
from core.train import Trainer

Strategy = Literal["informative", "entropy", "random"]
STRATEGIES: tuple[str, ...] = ("informative", "entropy", "random")


def informative_triplets(space: np.ndarray, labels: np.ndarray, n: int, *, exclude: set[int] | frozenset[int] = frozenset(),
                         per_pair: int = 2, pool: int = 5, n_neighbors: int = 10,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(triplets (m, 3) of row indices, expected change of each): the questions whose answers would move the most rows.

    Each row sits in its cluster A and nearest to one other cluster B (by centre). The question shows a central row of A
    and one of B (the clusters' faces, which a person can tell apart), so the answer says on which side of the A|B
    boundary the row belongs. Its expected change is the chance that the answer moves the row, d(A) / d(B) (1 on the
    boundary), times the rows it carries along: its `n_neighbors` nearest rows that lie on the same boundary. Picked
    greedily: at most `per_pair` questions per pair of clusters and no anchor next to one already picked, so a batch
    spreads over the boundaries; anchors in `exclude` (already asked) are never asked again. Choices come in random
    order (seeded), their faces rotating over the `pool` most central rows of each cluster.
    """
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    clusters = np.unique(labels[labels >= 0])
    if len(clusters) < 2 or n < 1:
        return np.zeros((0, 3), dtype=np.int64), np.zeros(0)
    index = {int(c): i for i, c in enumerate(clusters)}
    centres = np.stack([space[labels == c].mean(axis=0) for c in clusters])
    dist = np.sqrt(np.square(space[:, None, :] - centres[None, :, :]).sum(axis=-1))
    own = np.array([index.get(int(c), -1) for c in labels])
    placed = own >= 0
    own = np.where(placed, own, dist.argmin(axis=1))
    rows = np.arange(len(space))
    own_dist = dist[rows, own]
    others = dist.copy()
    others[rows, own] = np.inf
    other = others.argmin(axis=1)
    flip = own_dist / np.maximum(others[rows, other], 1e-12)
    boundary = np.minimum(own, other) * len(clusters) + np.maximum(own, other)
    neighbours = NearestNeighbors(n_neighbors=min(n_neighbors + 1, len(space))).fit(space).kneighbors(
        space, return_distance=False)
    carried = 1 + (boundary[neighbours[:, 1:]] == boundary[:, None]).sum(axis=1)
    score = np.minimum(flip, 1.0) * carried
    faces = [np.flatnonzero(own == c)[np.argsort(dist[own == c, c], kind="stable")][:pool]
             for c in range(len(clusters))]
    shown = np.zeros(len(clusters), dtype=np.int64)
    per_boundary: dict[int, int] = {}
    blocked = np.zeros(len(space), dtype=bool)
    found, scores = [], []
    for anchor in np.argsort(-score, kind="stable"):
        if len(found) >= n:
            break
        a, b = int(own[anchor]), int(other[anchor])
        if (int(anchor) in exclude or blocked[anchor] or per_boundary.get(int(boundary[anchor]), 0) >= per_pair
                or not placed[anchor]):
            continue
        first, second = (int(faces[c][shown[c] % len(faces[c])]) for c in (a, b))
        if anchor in (first, second):
            continue
        shown[[a, b]] += 1
        per_boundary[int(boundary[anchor])] = per_boundary.get(int(boundary[anchor]), 0) + 1
        blocked[neighbours[anchor]] = True
        found.append((int(anchor), first, second) if rng.random() < 0.5 else (int(anchor), second, first))
        scores.append(float(score[anchor]))
    return np.array(found, dtype=np.int64).reshape(-1, 3), np.array(scores)


def answered_triplets(triplets: np.ndarray, choices: np.ndarray) -> np.ndarray:
    """The answered questions (choice 1 or 2) as (anchor, closer, farther) rows; unanswered ones dropped."""
    decided = np.asarray(choices) > 0
    t, c = np.asarray(triplets, dtype=np.int64).reshape(-1, 3)[decided], np.asarray(choices)[decided]
    return np.stack([t[:, 0], np.where(c == 1, t[:, 1], t[:, 2]), np.where(c == 1, t[:, 2], t[:, 1])], axis=1)


def train_adapter(X: np.ndarray, triplets: np.ndarray, *, epochs: int = 30, lr: float = 1e-3, batch_size: int = 16,
                  temperature: float = 0.05, weight_decay: float = 0.01, seed: int = 0) -> np.ndarray:
    """W (d, d) of the residual map x -> x + Wx trained on (anchor, closer, farther) row triplets of X with InfoNCE
    (zeros when there is nothing to learn from)."""
    import torch

    d = X.shape[1]
    if len(triplets) == 0 or epochs == 0:
        return np.zeros((d, d), dtype=np.float32)
    vectors = torch.as_tensor(np.asarray(X, dtype=np.float32))
    layer = torch.nn.Linear(d, d, bias=False)
    torch.nn.init.zeros_(layer.weight)

    def loss(batch: list[np.ndarray]):
        rows = torch.as_tensor(np.stack(batch))
        a, p, n = (vectors[rows[:, i]] + layer(vectors[rows[:, i]]) for i in range(3))
        return info_nce_loss(a, p, n, temperature)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # steps this small only lose time to a second thread (18 s against 0.6 s on a busy CPU)
    try:
        Trainer(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay, seed=seed).fit(
            layer, lambda epoch, generator: list(np.asarray(triplets, dtype=np.int64)), loss)
    finally:
        torch.set_num_threads(threads)
    return layer.weight.detach().numpy().T.copy()


def adapt(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """The embeddings through the residual map, L2-normalised."""
    Y = np.asarray(X, dtype=np.float32) @ (np.eye(W.shape[0], dtype=np.float32) + W)
    return (Y / np.maximum(np.linalg.norm(Y, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@dataclass(kw_only=True)
class PersonLoop:
    """Questions for a person in batches, and a retrain of the clustering after each batch of answers.

    `strategy`: "informative" (the biggest expected change to the current clustering, `informative_triplets`),
    "entropy" (the paper's sampler on the current embeddings) or "random". `clustering` is the run's reduction and
    seed; k is `n_clusters`. Learned: `base_` (the frozen embeddings), `embeddings_` (through the current map),
    `space_` (what is clustered), `labels_`, `triplets_` and `answers_` (everything asked and the person's answers:
    1, 2, or 0 for "cannot tell"), `rounds_` (retrains so far).
    """

    n_clusters: int
    clustering: ClusteringSettings = field(default_factory=ClusteringSettings)
    strategy: Strategy = "informative"
    batch_size: int = 10
    epochs: int = 30
    lr: float = 1e-3
    temperature: float = 0.05
    seed: int = 0

    def fit(self, embeddings: np.ndarray) -> "PersonLoop":
        """Start from the base embeddings: the first clustering, and no questions asked yet."""
        if self.strategy not in STRATEGIES:
            raise SettingsError(f"strategy must be one of {', '.join(STRATEGIES)}, not {self.strategy!r}.")
        if self.n_clusters < 2 or len(embeddings) <= self.n_clusters:
            raise SettingsError(f"Asking a person needs at least 2 clusters and more rows than clusters; this has "
                                f"{len(embeddings)} rows and k = {self.n_clusters}.")
        self.base_ = np.asarray(embeddings, dtype=np.float32)
        self.triplets_ = np.zeros((0, 3), dtype=np.int64)
        self.answers_ = np.zeros(0, dtype=np.int64)
        self.rounds_ = 0
        self.W_ = np.zeros((self.base_.shape[1],) * 2, dtype=np.float32)
        self._recluster()
        return self

    def next_questions(self, n: int | None = None) -> np.ndarray:
        """The next `n` (default `batch_size`) questions as (anchor, choice 1, choice 2) rows, never one asked before."""
        n = self.batch_size if n is None else n
        seed = self.seed + 7919 * len(self.triplets_)
        asked = {(int(a), min(int(b), int(c)), max(int(b), int(c))) for a, b, c in self.triplets_}
        if self.strategy == "informative":
            found, _ = informative_triplets(self.space_, self.labels_, n, exclude=set(self.triplets_[:, 0].tolist()),
                                            seed=seed)
        elif self.strategy == "entropy":
            found = triplets_by_entropy(self.embeddings_, n + len(asked), n_clusters=min(100, len(self.base_) // 5),
                                        seed=seed)
        else:
            found = random_triplets(len(self.base_), n + len(asked), seed=seed)
        fresh = [t for t in found.tolist() if (t[0], min(t[1:]), max(t[1:])) not in asked]
        return np.array(fresh[:n], dtype=np.int64).reshape(-1, 3)

    def add_answers(self, triplets: np.ndarray, choices: np.ndarray) -> "PersonLoop":
        """Record the person's answers (1, 2, or 0 = cannot tell) to asked questions."""
        triplets = np.asarray(triplets, dtype=np.int64).reshape(-1, 3)
        choices = np.asarray(choices, dtype=np.int64)
        if len(choices) != len(triplets) or not np.isin(choices, (0, 1, 2)).all():
            raise SettingsError("Give one answer per question: 1, 2, or 0 when the person cannot tell.")
        self.triplets_ = np.concatenate([self.triplets_, triplets])
        self.answers_ = np.concatenate([self.answers_, choices])
        return self

    @property
    def n_answered(self) -> int:
        return int((self.answers_ > 0).sum())

    def retrain(self) -> "PersonLoop":
        """Learn the map from every answer so far, from the base embeddings, and cluster again."""
        self.W_ = train_adapter(self.base_, answered_triplets(self.triplets_, self.answers_), epochs=self.epochs,
                                lr=self.lr, temperature=self.temperature, seed=self.seed)
        self.rounds_ += 1
        self._recluster()
        return self

    def _recluster(self) -> None:
        self.embeddings_ = adapt(self.base_, self.W_)
        self.space_ = clustering_space(self.embeddings_, self.clustering, "text", self.clustering.seed)
        self.labels_ = cluster_and_score(self.space_, self.clustering, n_clusters=self.n_clusters,
                                         seed=self.clustering.seed, embeddings=self.embeddings_).labels
