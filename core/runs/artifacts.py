"""Read a finished run back: its data, vectors, labels, projection, tree and scores, and recut it at another k."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from core.cluster import ClusterTree
from core.data.dataset import Dataset
from core.errors import ClusterLensError
from core.metrics import score_clustering
from core.profiles import ClusterProfile, profile_clusters, top_terms
from core.storage import CONFIG, EMBEDDINGS, LABELS, METRICS, PROJECTION, TREE, RunDirectory
from core.runs.execute import SPACE, load_run_dataset
from core.settings import RunConfig

HOVER_ROWS = 20_000
"""Rows the map draws and sends text of for hovering, at most (a seeded sample of every cluster in proportion): at
90 characters each about 2 MB of JSON, where 100,000 rows would send 9 MB to the browser on every render. A box or
lasso still selects every row inside it (`rows_in_regions`), drawn or not."""

TERMS = "terms.json"
"""The words of the run's own clusters, written when the run ends (`RunArtifacts.store_terms`)."""

Region = tuple[list[float], list[float]]
"""A selection on the map in its coordinates: (x values, y values) of a box's two corners or of a lasso's vertices."""


def rows_in_regions(points: np.ndarray, boxes: Sequence[Region] = (), lassos: Sequence[Region] = ()) -> np.ndarray:
    """Row numbers (sorted) of the 2-d points inside any of the boxes or lassos (polygons, by the even-odd rule)."""
    points = np.asarray(points, dtype=float)
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), dtype=bool)
    for xs, ys in boxes:
        inside |= (x >= min(xs)) & (x <= max(xs)) & (y >= min(ys)) & (y <= max(ys))
    for xs, ys in lassos:
        if len(xs) < 3:
            continue
        crossings = np.zeros(len(points), dtype=bool)
        x0, y0 = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        for ax, ay, bx, by in zip(x0, y0, x1, y1):  # a ray from each point to the right crosses this edge?
            spans = (ay > y) != (by > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                at = ax + (y - ay) * (bx - ax) / (by - ay)
            crossings ^= spans & (x < at)
        inside |= crossings
    return np.flatnonzero(inside)


@dataclass
class RunArtifacts:
    """Everything a finished run wrote, loaded once; pages hold one per run id."""

    directory: RunDirectory
    config: RunConfig
    data: Dataset
    embeddings: np.ndarray
    space: np.ndarray
    labels: np.ndarray
    projection: np.ndarray
    tree: ClusterTree
    scores: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.scores["k"])

    @cached_property
    def truth(self) -> np.ndarray | None:
        labels = self.data.labels()
        return None if labels is None else np.asarray(labels)

    def recut(self, k: int) -> tuple[np.ndarray, dict[str, float]]:
        """Labels from the cluster tree at k clusters, scored in the same space as the run's own clustering."""
        labels = self.tree.cut(k)
        return labels, score_clustering(self.space, labels, self.truth)

    def profiles(self, labels: np.ndarray) -> list[ClusterProfile]:
        """What distinguishes each cluster, in the table's own columns."""
        return profile_clusters(self.data.frame, labels, self.data.columns_with("numeric"),
                                self.data.columns_with("categorical"))

    def terms(self, labels: np.ndarray) -> dict[int, list[str]]:
        """Characteristic words of each cluster of texts (for the run's own labels, those `store_terms` wrote)."""
        if np.array_equal(labels, self.labels) and self.directory.exists(TERMS):
            return {int(cluster): words for cluster, words in self.directory.read_json(TERMS).items()}
        return top_terms(self.data.texts(), labels)

    def store_terms(self) -> None:
        """Write the words of the run's own clusters (texts) when the run ends, so that Explore's first render reads
        them instead of computing them (1.7 s at 100,000 texts)."""
        if self.data.kind == "text":
            words = top_terms(self.data.texts(), self.labels)
            self.directory.write_json(TERMS, {str(cluster): terms for cluster, terms in words.items()})

    def hover_rows(self, limit: int = HOVER_ROWS, seed: int = 0) -> np.ndarray:
        """Row numbers (sorted) of at most `limit` rows for the map's hover payload: every row when there are fewer,
        else a seeded sample in which each cluster keeps its share."""
        n = len(self.labels)
        if n <= limit:
            return np.arange(n)
        shuffled = np.random.default_rng(seed).permutation(n)
        order = shuffled[np.argsort(self.labels[shuffled], kind="stable")]  # clusters in turn, rows shuffled within
        return np.sort(order[np.round(np.linspace(0, n - 1, limit)).astype(np.int64)])

    def hover_texts(self, max_chars: int = 140, rows: np.ndarray | None = None) -> list[str]:
        """One short line per row (or per row of `rows`, e.g. `hover_rows()`) for the scatter's hover: the text, or
        the row's feature values."""
        frame = self.data.frame if rows is None else self.data.frame.iloc[rows]
        if self.data.kind == "text":
            texts = frame[self.data.text_column].fillna("").astype(str).tolist()
        else:
            columns = self.data.feature_columns[:6]
            texts = [", ".join(f"{c}={v}" for c, v in zip(columns, row)) for row in
                     frame[columns].astype(str).itertuples(index=False)]
        return [text if len(text) <= max_chars else text[:max_chars - 1] + "…" for text in texts]


def load_artifacts(run_dir: str | Path) -> RunArtifacts:
    """Load a finished run; a run that has not finished gives a ClusterLensError saying so."""
    directory = RunDirectory(run_dir)
    if not directory.exists(METRICS):
        raise ClusterLensError("This run has no results yet. Wait for it to finish, or resume it on the Run page.")
    config = RunConfig.from_dict(directory.read_json(CONFIG))
    tree_arrays = directory.load_arrays(TREE)
    return RunArtifacts(
        directory=directory,
        config=config,
        data=load_run_dataset(directory, config),
        embeddings=directory.load_array(EMBEDDINGS),
        space=directory.load_array(SPACE),
        labels=directory.load_array(LABELS),
        projection=directory.load_array(PROJECTION),
        tree=ClusterTree.from_arrays(tree_arrays["linkage"], tree_arrays["leaf_of_point"]),
        scores=directory.read_json(METRICS),
    )
