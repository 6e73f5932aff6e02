"""Learning from a person's edits: each edit becomes triplets (anchor, closer, farther), the embedder is fine-tuned on
them with ClusterLLM's trainer, and the rows are re-clustered starting from the person's clusters.

What an edit says, in the person's final view of the data (the current labels), so a later edit can overrule an
earlier one:
- a moved row is closer to the rows of its new cluster than to those of the cluster it left;
- a merge says the merged clusters' members belong together (closer to each other than to the nearest other cluster);
- a split says its parts do not (closer to their own part than to the others);
- a person's reviewed triplet answers (ClusterLLM's review queue) are triplets as they are.
Marking outliers and renaming teach nothing about distances; edits before a "start over from a cut" are discarded.
Positives and negatives are drawn from the most central rows of their clusters, the rows the person saw as examples.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.curation.edits import NOISE, EditError, EditRecord, match_ids, replay
from core.embed.encoders import encode_with, trainable_model
from core.methods.clusterllm.objective import TripletFineTuner
from core.pipeline import clustering_space
from core.progress import ProgressFn, StopFn, check_stop, never_stop, no_progress
from core.settings import ClusteringSettings

Triplet = tuple[int, int, int]


@dataclass
class EditTriplets:
    """Turns the done edits of a run into row-index triplets (anchor, positive, negative).

    `per_row`: triplets for each moved row; `per_cluster_edit`: triplets for each merged pair or split part;
    `pool`: positives and negatives are drawn from this many most central rows of their cluster.
    Learned by `fit`: `triplets_` (n, 3) and `sources_` (the edit kind each came from).
    """

    per_row: int = 2
    per_cluster_edit: int = 48
    pool: int = 20
    seed: int = 0

    def fit(self, original: np.ndarray, records: Sequence[EditRecord], embeddings: np.ndarray) -> "EditTriplets":
        """Replay the done edits over `original`, drawing triplets for each against the final labels."""
        rng = np.random.default_rng(self.seed)
        effective = effective_records(records)
        start = effective[0].seq if effective else np.inf
        labels = replay(original, [record for record in records if record.seq < start]).labels
        final = labels.copy()
        for record in effective:
            for label, rows in record.assignments:
                final[rows] = label
        centrality = _centrality(embeddings, final)
        found: list[Triplet] = []
        sources: list[str] = []
        for record in effective:
            before = labels.copy()
            for label, rows in record.assignments:
                labels[rows] = label
            made = self._triplets(record, before, final, centrality, embeddings, rng)
            found.extend(made)
            sources.extend([record.kind] * len(made))
        self.triplets_ = np.array(found, dtype=np.int64).reshape(-1, 3)
        self.sources_ = sources
        return self

    def _triplets(self, record: EditRecord, before: np.ndarray, final: np.ndarray, centrality: np.ndarray,
                  embeddings: np.ndarray, rng: np.random.Generator) -> list[Triplet]:
        if record.kind == "move":
            return self._move(np.asarray(record.payload["rows"]), before, final, centrality, rng)
        if record.kind == "merge":
            return self._merge([int(c) for c in record.payload["clusters"]], before, final, centrality,
                               embeddings, rng)
        if record.kind == "split":  # the part that kept the id, then the parts the split made
            kept = before == int(record.payload["cluster"])
            parts = []
            for _, rows in record.assignments:
                kept[rows] = False
                parts.append(np.isin(np.arange(len(final)), rows))
            return self._split([kept, *parts], final, centrality, rng)
        return []

    def _pick(self, candidates: np.ndarray, centrality: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` rows drawn from the `pool` most central of the candidates."""
        if len(candidates) == 0:
            return candidates
        central = candidates[np.argsort(-centrality[candidates], kind="stable")[:self.pool]]
        return rng.choice(central, size=n, replace=len(central) < n)

    def _move(self, rows: np.ndarray, before: np.ndarray, final: np.ndarray, centrality: np.ndarray,
              rng: np.random.Generator) -> list[Triplet]:
        found = []
        for row in rows:
            if final[row] == NOISE or before[row] == NOISE:
                continue
            positives = np.flatnonzero((final == final[row]) & (np.arange(len(final)) != row))
            negatives = np.flatnonzero((before == before[row]) & (final != final[row]) & (final != NOISE))
            if len(positives) and len(negatives):
                found += [(int(row), int(p), int(n)) for p, n in zip(
                    self._pick(positives, centrality, rng, self.per_row),
                    self._pick(negatives, centrality, rng, self.per_row))]
        return found

    def _merge(self, clusters: list[int], before: np.ndarray, final: np.ndarray, centrality: np.ndarray,
               embeddings: np.ndarray, rng: np.random.Generator) -> list[Triplet]:
        members = [np.flatnonzero(before == c) for c in clusters]
        merged = np.concatenate(members)
        if len(merged) == 0:
            return []
        # The nearest other cluster (by mean vector) is the one the merged rows are most easily confused with.
        centre = embeddings[merged].mean(axis=0)
        others = [c for c in np.unique(final) if c != NOISE and c not in set(final[merged].tolist())]
        if not others:
            return []
        nearest = max(others, key=lambda c: float(embeddings[final == c].mean(axis=0) @ centre))
        negatives = np.flatnonzero(final == nearest)
        found = []
        for i, first in enumerate(members):
            for second in members[i + 1:]:
                for a, b in ((first, second), (second, first)):
                    anchors = self._pick(a, centrality, rng, self.per_cluster_edit // 2)
                    for anchor, positive, negative in zip(anchors, self._pick(b, centrality, rng, len(anchors)),
                                                          self._pick(negatives, centrality, rng, len(anchors))):
                        if final[anchor] == final[positive] and final[anchor] != final[negative]:
                            found.append((int(anchor), int(positive), int(negative)))
        return found

    def _split(self, parts: list[np.ndarray], final: np.ndarray, centrality: np.ndarray,
               rng: np.random.Generator) -> list[Triplet]:
        found = []
        for i, part in enumerate(parts):
            rows = np.flatnonzero(part)
            others = np.flatnonzero(np.any([p for j, p in enumerate(parts) if j != i], axis=0))
            if len(rows) < 2 or len(others) == 0:
                continue
            anchors = self._pick(rows, centrality, rng, self.per_cluster_edit)
            for anchor, positive, negative in zip(anchors, self._pick(rows, centrality, rng, len(anchors)),
                                                  self._pick(others, centrality, rng, len(anchors))):
                if anchor != positive and final[anchor] == final[positive] and final[anchor] != final[negative]:
                    found.append((int(anchor), int(positive), int(negative)))
        return found


def effective_records(records: Sequence[EditRecord]) -> list[EditRecord]:
    """The done edits that still count: those after the last done "start over from a cut"."""
    done = [record for record in records if record.state == "done"]
    last_recut = max((i for i, record in enumerate(done) if record.kind == "recut"), default=-1)
    return done[last_recut + 1:]


def _centrality(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cosine of each row to its cluster's mean vector (0 for outliers)."""
    vectors = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    score = np.zeros(len(labels))
    for cluster in np.unique(labels):
        if cluster == NOISE:
            continue
        rows = labels == cluster
        score[rows] = vectors[rows] @ vectors[rows].mean(axis=0)
    return score


def warm_kmeans(space: np.ndarray, labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """k-means on `space` started from the centres of the current clusters (outliers left out of the start),
    renumbered so each cluster keeps the id of the current cluster it corresponds to."""
    from sklearn.cluster import KMeans

    clusters = [c for c in np.unique(labels) if c != NOISE]
    centres = np.stack([space[labels == c].mean(axis=0) for c in clusters])
    found = KMeans(n_clusters=len(clusters), init=centres, n_init=1, random_state=seed).fit_predict(space)
    return match_ids(labels, np.asarray(clusters)[found], int(max(clusters)) + 1)


class EditRetrainer:
    """Fine-tune a private copy of the embedder on the edits' triplets (plus any given text triplets, such as a
    person's reviewed answers) with ClusterLLM's trainer, re-embed every row, and re-cluster from the current clusters.

    `clustering` is the run's ClusteringSettings (reduction and seed). Learned: `triplets_` (row indices from the
    edits), `n_train_` (triplets trained on), `history_` (loss per epoch), `model_`, `embeddings_`, `space_`,
    `labels_` (ids of the current clusters they correspond to).
    """

    def __init__(self, clustering: ClusteringSettings, *, triplets: EditTriplets | None = None, epochs: int = 2,
                 lr: float = 1e-4, batch_size: int = 16, device: str = "cpu", progress: ProgressFn = no_progress,
                 should_stop: StopFn = never_stop) -> None:
        self.clustering = clustering
        self.triplets = triplets
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.device = device
        self.progress = progress
        self.should_stop = should_stop

    def fit(self, texts: Sequence[str], embedder: Any, original: np.ndarray, records: Sequence[EditRecord],
            embeddings: np.ndarray, labels: np.ndarray,
            extra: Sequence[tuple[str, str, str]] = ()) -> "EditRetrainer":
        texts = list(texts)
        maker = self.triplets or EditTriplets(seed=self.clustering.seed)
        self.triplets_ = maker.fit(original, records, embeddings).triplets_
        train = [(texts[a], texts[p], texts[n]) for a, p, n in self.triplets_] + list(extra)
        if not train:
            raise EditError("There is nothing to learn from yet: move rows, merge or split clusters (or review "
                            "triplet answers) first.")
        self.n_train_ = len(train)
        self.progress("fine-tune", 0.05, f"Fine-tuning on {len(train)} triplets from your edits")
        self.model_ = trainable_model(embedder)
        tuner = TripletFineTuner(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                                 seed=self.clustering.seed, device=self.device, should_stop=self.should_stop,
                                 progress=lambda fraction, message: self.progress("fine-tune",
                                                                                  0.05 + 0.6 * fraction, message))
        self.history_ = tuner.fit(self.model_, train).history_
        check_stop(self.should_stop)
        self.progress("embed", 0.7, "Embedding every row with the fine-tuned model")
        self.embeddings_ = encode_with(self.model_, texts)
        self.progress("cluster", 0.8, "Re-clustering from your clusters")
        self.space_ = clustering_space(self.embeddings_, self.clustering, "text", self.clustering.seed)
        self.labels_ = warm_kmeans(self.space_, labels, self.clustering.seed)
        return self
