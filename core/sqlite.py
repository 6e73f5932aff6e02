"""One way to open the SQLite files ClusterLens shares across threads and processes."""
from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: str | Path) -> sqlite3.Connection:
    """A short-lived connection: rows by column name, WAL so readers never block the writer, 30 s busy wait."""
    db = sqlite3.connect(path, timeout=30)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    return db
