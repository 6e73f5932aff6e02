"""A person's edits of a run's clusters as an event log in the catalogue's SQLite file (table `curation_edits`).

Each event stores what the person asked (rename, merge, split, move, outliers, start over from a cut) and what it
did as explicit row assignments, so replaying the log over the original labels gives the same current labels on
any machine and any library version. Undo marks the last applied event "undone", redo re-applies it, and a new
edit after an undo drops the undone ones (as every editor does). Cluster ids are never reused: an edit that makes a
cluster takes an id above every id the run has ever had, so names never jump to an unrelated cluster.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from core import paths
from core.errors import ClusterLensError
from core.sqlite import connect

NOISE = -1
State = Literal["done", "undone", "dropped"]
MATCH_SHARE = 0.5  # two clusters correspond when they share at least half of the smaller one's rows

_SCHEMA = """
CREATE TABLE IF NOT EXISTS curation_edits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    summary TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (run, seq)
);
CREATE INDEX IF NOT EXISTS curation_edits_by_run ON curation_edits (run, seq);
"""


class EditError(ClusterLensError):
    """An edit that cannot be applied to the current clusters (unknown cluster, no rows, nothing to undo...)."""


@dataclass(frozen=True)
class Rename:
    """Give a cluster a name (and optionally a one-line description) that no regeneration overwrites."""

    cluster: int
    name: str
    description: str | None = None


@dataclass(frozen=True)
class Merge:
    """Put the rows of two or more clusters into the first one (which keeps its id and name)."""

    clusters: tuple[int, ...]


@dataclass(frozen=True)
class Split:
    """Re-cluster one cluster's rows into k parts, or into the k (2..max_k) with the best silhouette when k is None."""

    cluster: int
    k: int | None = None
    max_k: int = 8


@dataclass(frozen=True)
class Move:
    """Move rows (indices into the run's data) to an existing cluster, or to a new one when `to` is "new"."""

    rows: tuple[int, ...]
    to: int | Literal["new"]


@dataclass(frozen=True)
class MarkOutliers:
    """Take rows out of every cluster (label -1): they belong to no theme."""

    rows: tuple[int, ...]


@dataclass(frozen=True)
class Recut:
    """Start over from the cluster tree cut at k: every earlier edit's effect on the labels is replaced."""

    k: int


Edit = Rename | Merge | Split | Move | MarkOutliers | Recut


@dataclass(frozen=True)
class EditRecord:
    """One stored event: its kind, what it changed (`assign`: label -> rows), rename fields, and its state."""

    id: int
    seq: int
    kind: str
    payload: dict[str, Any]
    summary: str
    state: State
    created: float

    @property
    def assignments(self) -> list[tuple[int, np.ndarray]]:
        """(label, rows) pairs this event sets, in order."""
        return [(int(label), np.asarray(rows, dtype=np.int64)) for label, rows in self.payload.get("assign", [])]


@dataclass
class Replayed:
    """The result of replaying a log: labels, person names {cluster: (name, description)}, and the version."""

    labels: np.ndarray
    names: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    version: int = 0


def replay(original: np.ndarray, records: Iterable[EditRecord]) -> Replayed:
    """The labels and person names after applying the done events, in order, to the original labels."""
    labels = np.array(original, dtype=np.int64, copy=True)
    names: dict[int, tuple[str, str | None]] = {}
    version = 0
    for record in records:
        if record.state != "done":
            continue
        for label, rows in record.assignments:
            labels[rows] = label
        if record.kind == "rename":
            names[int(record.payload["cluster"])] = (record.payload["name"], record.payload.get("description"))
        version = record.seq
    present = set(np.unique(labels).tolist())
    return Replayed(labels, {c: n for c, n in names.items() if c in present}, version)


def match_ids(reference: np.ndarray, labels: np.ndarray, first_free: int) -> np.ndarray:
    """`labels` renumbered so that a cluster keeps the id of the `reference` cluster it corresponds to.

    Clusters are paired by the most shared rows (Hungarian assignment on the overlap counts); a pair counts when it
    shares at least MATCH_SHARE of the smaller cluster's rows. Unpaired clusters get fresh ids from `first_free`, in
    order of size. Noise (-1) stays -1.
    """
    reference, labels = np.asarray(reference), np.asarray(labels)
    old = np.unique(reference[reference != NOISE])
    new = np.unique(labels[labels != NOISE])
    mapping = {NOISE: NOISE}
    if len(old) and len(new):
        overlap = np.zeros((len(new), len(old)), dtype=np.int64)
        both = (reference != NOISE) & (labels != NOISE)
        np.add.at(overlap, (np.searchsorted(new, labels[both]), np.searchsorted(old, reference[both])), 1)
        new_sizes = np.array([(labels == c).sum() for c in new])
        old_sizes = np.array([(reference == c).sum() for c in old])
        for i, j in zip(*linear_sum_assignment(overlap, maximize=True)):
            if overlap[i, j] >= MATCH_SHARE * min(new_sizes[i], old_sizes[j]) and overlap[i, j] > 0:
                mapping[int(new[i])] = int(old[j])
    unmatched = sorted((c for c in new if int(c) not in mapping), key=lambda c: -(labels == c).sum())
    for offset, cluster in enumerate(unmatched):
        mapping[int(cluster)] = first_free + offset
    return np.array([mapping[int(label)] for label in labels], dtype=np.int64)


class EditLog:
    """The `curation_edits` table. A short connection per call, so it is safe across threads and processes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.catalogue_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def records(self, run: str) -> list[EditRecord]:
        """Every event of a run in order, whatever its state."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM curation_edits WHERE run = ? ORDER BY seq", (run,)).fetchall()
        return [EditRecord(row["id"], row["seq"], row["kind"], json.loads(row["payload"]), row["summary"],
                           row["state"], row["created"]) for row in rows]

    def append(self, run: str, kind: str, payload: dict[str, Any], summary: str) -> EditRecord:
        """Store a new done event; undone events of the run are dropped (a new edit ends the redo history)."""
        now = time.time()
        with closing(self._connect()) as db, db:
            db.execute("UPDATE curation_edits SET state = 'dropped', updated = ? WHERE run = ? AND state = 'undone'",
                       (now, run))
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM curation_edits WHERE run = ?",
                             (run,)).fetchone()[0]
            cursor = db.execute("INSERT INTO curation_edits (run, seq, kind, payload, summary, state, created, "
                                "updated) VALUES (?, ?, ?, ?, ?, 'done', ?, ?)",
                                (run, seq, kind, json.dumps(payload), summary, now, now))
        return EditRecord(int(cursor.lastrowid), int(seq), kind, payload, summary, "done", now)

    def undo(self, run: str) -> EditRecord:
        """Mark the last done event undone and return it."""
        return self._flip(run, "done", "undone", "DESC", "There is no edit to undo.")

    def redo(self, run: str) -> EditRecord:
        """Re-apply the first undone event and return it."""
        return self._flip(run, "undone", "done", "ASC", "There is no undone edit to redo.")

    def _flip(self, run: str, source: str, target: str, order: str, empty: str) -> EditRecord:
        with closing(self._connect()) as db, db:
            row = db.execute(f"SELECT id FROM curation_edits WHERE run = ? AND state = ? ORDER BY seq {order} "
                             "LIMIT 1", (run, source)).fetchone()
            if row is None:
                raise EditError(empty)
            db.execute("UPDATE curation_edits SET state = ?, updated = ? WHERE id = ?", (target, time.time(),
                                                                                       row["id"]))
        return next(record for record in self.records(run) if record.id == row["id"])


def first_free_id(original: np.ndarray, records: Sequence[EditRecord]) -> int:
    """An id above every cluster id the run has had, in its original labels or in any event, undone ones too."""
    used = [int(np.max(original, initial=NOISE))]
    for record in records:
        used.extend(label for label, _ in record.assignments)
    return max(used) + 1
