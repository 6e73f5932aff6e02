"""The run catalogue: one SQLite row per run (who owns it, what it is, where its folder is, where it stands) that
every process shares. It is also the queue: executors reserve and claim runs here, workers write progress and a
heartbeat here and read the cancel flag from here, so nothing about a run lives only in one process's memory."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ClusterLensError
from core.runs.queue import QueuePosition, estimate_wait, fair_order, seconds_left, typical_seconds
from core.storage import STATUS, RunDirectory, dumps_json
from core.sqlite import connect

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
STALE_AFTER_SECONDS = 60.0
"""A running run whose heartbeat is older than this reads "interrupted": its worker (thread, process or machine) is
gone. Workers beat every few seconds (jobs.HEARTBEAT_SECONDS); a minute tolerates a busy machine."""
LAUNCH_SECONDS = 120.0
"""How long a reservation holds a queued run for the worker being started for it (a subprocess needs a few seconds
to import its libraries); after that the run is free for another worker."""
TYPICAL_RUNS = 20
"""How many recent finished runs of a method give its typical duration, for wait estimates."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    method TEXT NOT NULL,
    dataset TEXT NOT NULL,
    kind TEXT NOT NULL,
    parent TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_by_owner ON runs (owner, created);
"""
_ADDED_COLUMNS = {
    "path": "TEXT",  # the run folder; NULL for rows older than this column: the folder named by the id under runs/
    "heartbeat": "REAL",  # last sign of life of the worker running it
    "cancel_requested": "INTEGER NOT NULL DEFAULT 0",
    "worker": "TEXT",  # the worker that reserved or claimed it
    "claimed": "REAL",  # when that worker reserved or claimed it
    "queued": "REAL",  # when it last entered the queue (the older, the sooner among equals)
    "started": "REAL",  # when its current attempt began running
}
"""Columns added after the first release; an existing catalogue gains them in place when it is opened."""


@dataclass
class RunRecord:
    """A catalogue row. `status` is effective: a running run whose heartbeat is older than the store's bound reads
    "interrupted" (its worker is gone, whatever its process id now belongs to). A queued run has no worker yet and
    never reads interrupted: it waits in the catalogue for any executor, before or after a restart."""

    id: str
    owner: str
    method: str
    dataset: str
    kind: str
    parent: str | None
    created: float
    updated: float
    status: str
    stage: str
    progress: float
    message: str
    pid: int | None
    path: Path
    summary: dict[str, Any] = field(default_factory=dict)
    heartbeat: float | None = None
    cancel_requested: bool = False
    worker: str | None = None
    claimed: float | None = None
    queued: float | None = None
    started: float | None = None

    @property
    def directory(self) -> RunDirectory:
        return RunDirectory(self.path)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def resumable(self) -> bool:
        return self.status in ("interrupted", "failed", "cancelled")


def new_run_id() -> str:
    """Sortable, unique run id: creation time plus a random suffix."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class RunStore:
    """Creates runs, records their status (SQLite row + status.json in the run folder), lists them per owner, and
    holds the queue (reserve, claim, heartbeat, progress, cancel flag, outcome)."""

    def __init__(self, db_path: str | Path, runs_root: str | Path, *,
                 stale_after: float = STALE_AFTER_SECONDS) -> None:
        self.db_path = Path(db_path)
        self.runs_root = Path(runs_root)
        self.stale_after = stale_after
        self.runs_root.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)
        with self._transaction() as db:  # two processes opening an old catalogue at once add each column once
            present = {row["name"] for row in db.execute("PRAGMA table_info(runs)")}
            for column, declaration in _ADDED_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {column} {declaration}")
            db.execute("CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, queued)")

    def _connect(self) -> sqlite3.Connection:
        return connect(self.db_path)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the write lock from its first read, so a check and the change it allows are
        one step for every process sharing the catalogue."""
        with closing(self._connect()) as db:
            db.isolation_level = None
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # The pages' interface: create, read, list, change, delete.

    def create(self, *, owner: str, method: str, dataset: str, kind: str, parent: str | None = None,
               path: str | Path | None = None) -> RunRecord:
        """Register a new run and make its folder (under the runs root, or `path`, e.g. the command line's --out);
        status starts as "created". A folder registered again now belongs to the new run only."""
        run_id = new_run_id()
        folder = Path(path).resolve() if path is not None else self.runs_root / run_id
        folder.mkdir(parents=True, exist_ok=path is not None)
        now = time.time()
        with closing(self._connect()) as db, db:
            if path is not None:
                db.execute("DELETE FROM runs WHERE path = ?", (str(folder),))
            db.execute(
                "INSERT INTO runs (id, owner, method, dataset, kind, parent, created, updated, status, path) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'created', ?)",
                (run_id, owner, method, dataset, kind, parent, now, now, str(folder)),
            )
        self._mirror(run_id)
        return self.get(run_id)

    def get(self, run_id: str) -> RunRecord:
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise ClusterLensError(f"No run with id {run_id!r}. It may have been deleted; pick one from the run history.")
        return self._record(row)

    def list(self, owner: str | None = None, *, limit: int = 200) -> list[RunRecord]:
        """Runs newest first, only `owner`'s when given."""
        query = "SELECT * FROM runs" + (" WHERE owner = ?" if owner is not None else "") + " ORDER BY created DESC LIMIT ?"
        params: tuple = (owner, limit) if owner is not None else (limit,)
        with closing(self._connect()) as db:
            rows = db.execute(query, params).fetchall()
        return [self._record(row) for row in rows]

    def update(self, run_id: str, *, status: str | None = None, stage: str | None = None,
               progress: float | None = None, message: str | None = None, pid: int | None = None,
               summary: dict[str, Any] | None = None) -> None:
        """Change some fields of a run's row, then mirror the row to status.json (atomic)."""
        changes: dict[str, Any] = {}
        for column, value in (("status", status), ("stage", stage), ("progress", progress), ("message", message),
                              ("pid", pid)):
            if value is not None:
                changes[column] = value
        if summary is not None:
            changes["summary"] = dumps_json(summary)
        self._change(run_id, changes, "")
        self._mirror(run_id)

    def delete(self, run_id: str) -> None:
        """Remove a run's row, and its folder when the catalogue made it (a command line run's --out folder stays)."""
        with closing(self._connect()) as db, db:
            row = db.execute("SELECT id, path FROM runs WHERE id = ?", (run_id,)).fetchone()
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        if row is not None and self._folder(dict(row)).parent == self.runs_root:
            shutil.rmtree(self._folder(dict(row)), ignore_errors=True)

    # The queue: executors enqueue and reserve, a job claims, beats, reports and finishes; anyone may cancel.

    def enqueue(self, run_id: str) -> None:
        """Put a run (new, or interrupted, failed or cancelled and resumed) at the back of the queue."""
        now = time.time()
        with self._transaction() as db:
            moved = db.execute(
                "UPDATE runs SET status = 'queued', stage = 'queued', progress = 0, "
                "message = 'Waiting for a free slot', queued = ?, updated = ?, cancel_requested = 0, worker = NULL, "
                "claimed = NULL, heartbeat = NULL, started = NULL "
                "WHERE id = ? AND status != 'queued' AND NOT (status = 'running' AND heartbeat >= ?)",
                (now, now, run_id, now - self.stale_after)).rowcount
        if not moved:
            raise ClusterLensError(f"Run {self.get(run_id).id} is already queued or running; wait for it, or "
                                   "cancel it first.")
        self._mirror(run_id)

    def reserve_next(self, worker: str, workers: int) -> str | None:
        """Reserve for `worker` the queued run that should start next, when fewer than `workers` runs are busy; the
        reservation lasts LAUNCH_SECONDS, long enough for the worker to start and claim it."""
        now = time.time()
        with self._transaction() as db:
            busy = self._busy(db, now)
            if len(busy) >= workers:
                return None
            waiting = self._waiting(db, now)
            if not waiting:
                return None
            run_id = fair_order(waiting, Counter(run.owner for run in busy))[0].id
            db.execute("UPDATE runs SET worker = ?, claimed = ?, message = 'Starting' WHERE id = ?",
                       (worker, now, run_id))
        return run_id

    def claim(self, run_id: str, worker: str) -> RunRecord | None:
        """Make `worker` the one running this run: a queued run it reserved, or a run never queued (the command
        line's). None when the run was cancelled, or reserved for or claimed by another worker."""
        now = time.time()
        if not self._change(run_id, {"status": "running", "stage": "starting", "message": "Starting", "worker": worker,
                                     "claimed": now, "started": now, "heartbeat": now, "pid": os.getpid()},
                            " AND cancel_requested = 0 AND ((status = 'queued' AND worker = ?) OR "
                            "(status = 'created' AND worker IS NULL))", worker):
            return None
        self._mirror(run_id, best_effort=True)
        return self.get(run_id)

    def beat(self, run_id: str, worker: str) -> bool:
        """Record that `worker` is alive and still runs this run (False once it no longer does)."""
        with closing(self._connect()) as db, db:
            return db.execute("UPDATE runs SET heartbeat = ? WHERE id = ? AND worker = ? AND status = 'running'",
                              (time.time(), run_id, worker)).rowcount == 1

    def report(self, run_id: str, worker: str, stage: str, progress: float, message: str) -> None:
        """Progress of a run from the worker running it (ignored from a worker that lost the run)."""
        if self._change(run_id, {"stage": stage, "progress": float(progress), "message": message,
                                 "heartbeat": time.time()}, " AND worker = ? AND status = 'running'", worker):
            self._mirror(run_id, best_effort=True)

    def should_stop(self, run_id: str, worker: str) -> bool:
        """True when someone asked the run to stop, or when `worker` no longer holds it (it was resumed elsewhere)."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT cancel_requested, worker, status FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row is None or bool(row["cancel_requested"]) or row["worker"] != worker or row["status"] != "running"

    def finish(self, run_id: str, worker: str, *, status: str, message: str, progress: float | None = None,
               summary: dict[str, Any] | None = None) -> bool:
        """Record how a run ended (done, failed or cancelled); False when `worker` no longer held it. The row is the
        truth: status.json is mirrored when the disk allows."""
        changes: dict[str, Any] = {"status": status, "stage": status, "message": message, "heartbeat": time.time()}
        if progress is not None:
            changes["progress"] = float(progress)
        if summary is not None:
            changes["summary"] = dumps_json(summary)
        finished = self._change(run_id, changes, " AND worker = ? AND status = 'running'", worker)
        if finished:
            self._mirror(run_id, best_effort=True)
        return finished

    def request_cancel(self, run_id: str) -> bool:
        """Ask a run to stop: a queued run is cancelled at once, a running one at its next safe point (its worker
        polls the flag). False when the run was not queued or running."""
        with self._transaction() as db:
            asked = db.execute("UPDATE runs SET cancel_requested = 1, updated = ? WHERE id = ? AND status IN "
                               "('queued', 'running')", (time.time(), run_id)).rowcount
            db.execute("UPDATE runs SET status = 'cancelled', stage = 'cancelled', message = 'Cancelled before it "
                       "started', worker = NULL WHERE id = ? AND status = 'queued'", (run_id,))
        if asked:
            self._mirror(run_id)
        return bool(asked)

    def queue_position(self, run_id: str, workers: int) -> QueuePosition | None:
        """Where a queued run stands on `workers` slots, with an estimated wait; None when it is not waiting."""
        now = time.time()
        with closing(self._connect()) as db:
            busy = self._busy(db, now)
            waiting = self._waiting(db, now)
            typical = self._typical_seconds(db, {run.method for run in [*busy, *waiting]})
        starting = [run for run in busy if run.id == run_id and run.status == "queued"]
        if starting:
            return QueuePosition(0, len(busy), workers, 0.0)
        order = fair_order(waiting, Counter(run.owner for run in busy))
        ids = [run.id for run in order]
        if run_id not in ids:
            return None
        place = ids.index(run_id)
        wait = estimate_wait([seconds_left(run, typical[run.method], now) for run in busy],
                             [typical[run.method] for run in order[:place]], workers)
        return QueuePosition(place + 1, len(busy), workers, wait)

    # Helpers.

    def _change(self, run_id: str, changes: dict[str, Any], condition: str, *params: Any) -> bool:
        """UPDATE the run's row (and its `updated` time) when `condition` holds; True when it did."""
        changes = {**changes, "updated": time.time()}
        assignments = ", ".join(f"{column} = ?" for column in changes)
        with closing(self._connect()) as db, db:
            return db.execute(f"UPDATE runs SET {assignments} WHERE id = ?{condition}",
                              (*changes.values(), run_id, *params)).rowcount == 1

    def _busy(self, db: sqlite3.Connection, now: float) -> list[RunRecord]:
        """Runs holding a slot: running with a fresh heartbeat, or reserved for a worker that is starting."""
        rows = db.execute("SELECT * FROM runs WHERE (status = 'running' AND heartbeat >= ?) OR (status = 'queued' "
                          "AND worker IS NOT NULL AND claimed >= ?)",
                          (now - self.stale_after, now - LAUNCH_SECONDS)).fetchall()
        return [self._record(row) for row in rows]

    def _waiting(self, db: sqlite3.Connection, now: float) -> list[RunRecord]:
        """Queued runs no worker is starting."""
        rows = db.execute("SELECT * FROM runs WHERE status = 'queued' AND cancel_requested = 0 AND (worker IS NULL "
                          "OR claimed < ?)", (now - LAUNCH_SECONDS,)).fetchall()
        return [self._record(row) for row in rows]

    def _typical_seconds(self, db: sqlite3.Connection, methods: set[str]) -> dict[str, float | None]:
        found = {}
        for method in methods:
            rows = db.execute("SELECT updated - started FROM runs WHERE method = ? AND status = 'done' AND started "
                              "IS NOT NULL ORDER BY updated DESC LIMIT ?", (method, TYPICAL_RUNS)).fetchall()
            found[method] = typical_seconds([row[0] for row in rows])
        return found

    def _mirror(self, run_id: str, *, best_effort: bool = False) -> None:
        """Copy the row to status.json in the run folder; `best_effort` lets a full disk skip the copy."""
        with closing(self._connect()) as db:
            row = dict(db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())
        row["summary"] = json.loads(row["summary"])
        try:
            RunDirectory(self._folder(row)).write_json(STATUS, row)
        except OSError:
            if not best_effort:
                raise

    def _folder(self, row: dict[str, Any]) -> Path:
        return Path(row["path"]) if row["path"] else self.runs_root / row["id"]

    def _record(self, row: sqlite3.Row) -> RunRecord:
        values = dict(row)
        values["summary"] = json.loads(values["summary"] or "{}")
        values["path"] = self._folder(values)
        values["cancel_requested"] = bool(values["cancel_requested"])
        record = RunRecord(**values)
        if record.status == "running" and (record.heartbeat or 0.0) < time.time() - self.stale_after:
            record.status = "interrupted"
        return record
