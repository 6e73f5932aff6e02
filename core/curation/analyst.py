"""A seeded simulated analyst for benchmarks: edits clusters the way a person reading their examples would, with the
known labels standing in for what the person understands.

Reading a cluster, the person notices (1) two clusters about the same thing (they share a majority label): merge
them; (2) a cluster holding two large groups (a second label with at least `split_share` of its rows, which no other
cluster is about): split it in two; (3) rows about another cluster's theme (their label is another cluster's
majority): move them there, or to a new cluster when no cluster is about their theme yet. Each candidate is worth the
rows it would put right; the person picks at random among the `top` most valuable, as a person does not always
fix the biggest problem first.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from core.curation.edits import NOISE, Edit, Merge, Move, Split


@dataclass
class SimulatedAnalyst:
    """`next_edit(labels)` proposes one edit for the current labels, or None when nothing worth fixing is left.

    `min_rows`: the fewest rows a move or a split's second group must have to be noticed.
    """

    truth: np.ndarray
    seed: int = 0
    top: int = 5
    min_rows: int = 3
    split_share: float = 0.3

    def __post_init__(self) -> None:
        self.truth = np.asarray(self.truth)
        self._rng = np.random.default_rng(self.seed)

    def candidates(self, labels: np.ndarray) -> list[tuple[int, Edit]]:
        """(rows it would put right, edit) for every problem visible in the current clusters."""
        clusters = [int(c) for c in np.unique(labels) if c != NOISE]
        counts = {c: Counter(self.truth[labels == c].tolist()) for c in clusters}
        majority = {c: counts[c].most_common(1)[0][0] for c in clusters}
        about: dict[object, list[int]] = {}
        for cluster in clusters:
            about.setdefault(majority[cluster], []).append(cluster)
        found: list[tuple[int, Edit]] = []
        for label, same in about.items():
            if len(same) > 1:
                same = sorted(same, key=lambda c: -counts[c][label])
                found.append((sum(counts[c][label] for c in same[1:]), Merge(tuple(same))))
        for cluster in clusters:
            size = sum(counts[cluster].values())
            for label, count in counts[cluster].most_common()[1:]:
                if count < self.min_rows:
                    break
                rows = tuple(int(r) for r in np.flatnonzero((labels == cluster) & (self.truth == label)))
                if label in about:
                    found.append((count, Move(rows, max(about[label], key=lambda c: counts[c][label]))))
                elif count >= self.split_share * size:
                    found.append((count, Split(cluster, k=2)))
                else:
                    found.append((count, Move(rows, "new")))
        return found

    def next_edit(self, labels: np.ndarray) -> Edit | None:
        found = sorted(self.candidates(labels), key=lambda item: -item[0])[:self.top]
        if not found:
            return None
        return found[int(self._rng.integers(len(found)))][1]
