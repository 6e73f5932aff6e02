"""The run catalogue: one SQLite row per run (who owns it, what it is, where it stands) beside its folder."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ClusterLensError
from core.storage import STATUS, RunDirectory, dumps_json
from core.sqlite import connect

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")

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


@dataclass
class RunRecord:
    """A catalogue row. `status` is effective: a run whose process died while active reads "interrupted"."""

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


def process_alive(pid: int | None) -> bool:
    """True when a process with this id exists on this machine."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    """Creates runs, records their status (SQLite row + status.json in the run folder) and lists them per owner."""

    def __init__(self, db_path: str | Path, runs_root: str | Path) -> None:
        self.db_path = Path(db_path)
        self.runs_root = Path(runs_root)
        self.runs_root.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.db_path)

    def create(self, *, owner: str, method: str, dataset: str, kind: str, parent: str | None = None) -> RunRecord:
        """Register a new run and make its folder; status starts as "created"."""
        run_id = new_run_id()
        (self.runs_root / run_id).mkdir(parents=True)
        now = time.time()
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO runs (id, owner, method, dataset, kind, parent, created, updated, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'created')",
                (run_id, owner, method, dataset, kind, parent, now, now),
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
        changes: dict[str, Any] = {"updated": time.time()}
        for column, value in (("status", status), ("stage", stage), ("progress", progress), ("message", message),
                              ("pid", pid)):
            if value is not None:
                changes[column] = value
        if summary is not None:
            changes["summary"] = dumps_json(summary)
        assignments = ", ".join(f"{column} = ?" for column in changes)
        with closing(self._connect()) as db, db:
            db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*changes.values(), run_id))
        self._mirror(run_id)

    def delete(self, run_id: str) -> None:
        """Remove a finished run's row and folder."""
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(self.runs_root / run_id, ignore_errors=True)

    def _mirror(self, run_id: str) -> None:
        with closing(self._connect()) as db:
            row = dict(db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())
        row["summary"] = json.loads(row["summary"])
        RunDirectory(self.runs_root / run_id).write_json(STATUS, row)

    def _record(self, row: sqlite3.Row) -> RunRecord:
        values = dict(row)
        values["summary"] = json.loads(values["summary"] or "{}")
        record = RunRecord(path=self.runs_root / values["id"], **values)
        if record.status in ACTIVE and not process_alive(record.pid):
            record.status = "interrupted"
        return record
