"""Embeddings cached by (model name, sha256 of the text), so no text is embedded twice by the same model."""
from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np

from core.embed.base import BatchProgress, Embedder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, sha256)
)
"""
_LOOKUP_CHUNK = 900  # below SQLite's default limit on bound parameters
WRITE_BLOCK = 2048
"""Texts embedded between two cache writes: a cancelled or crashed run loses at most this many (about 10 s of MiniLM
on 2 cores) and resumes from the cache; one write per block keeps SQLite's commits off the hot path."""


def text_hash(text: str) -> str:
    """Content key of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """A SQLite table of float32 vectors keyed by (model, sha256). Safe to share across threads and processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def get_many(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        """Vectors already stored for these hashes (missing ones are simply absent)."""
        found: dict[str, np.ndarray] = {}
        with closing(self._connect()) as db:
            for start in range(0, len(hashes), _LOOKUP_CHUNK):
                chunk = hashes[start:start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT sha256, vector FROM embeddings WHERE model = ? AND sha256 IN ({marks})",
                                  [model, *chunk])
                for sha, blob in rows:
                    found[sha] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        """Store vectors (float32) for these hashes, replacing nothing that is already there."""
        rows = [(model, sha, np.asarray(vec, dtype=np.float32).tobytes()) for sha, vec in vectors.items()]
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR IGNORE INTO embeddings (model, sha256, vector) VALUES (?, ?, ?)", rows)

    def count(self, model: str | None = None) -> int:
        """Number of stored vectors, for one model or all."""
        with closing(self._connect()) as db:
            if model is None:
                return db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            return db.execute("SELECT COUNT(*) FROM embeddings WHERE model = ?", [model]).fetchone()[0]


class CachedEmbedder:
    """Wraps an Embedder: looks texts up in the cache, embeds only the unseen ones (each once), and stores them every
    `write_block` texts, so an interrupted pass resumes where its last write left it. Progress counts the texts found
    in the cache as done: progress(cached + embedded so far, distinct texts)."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache, *, write_block: int = WRITE_BLOCK) -> None:
        self.embedder = embedder
        self.cache = cache
        self.name = embedder.name
        self.write_block = write_block
        self.last_misses_ = 0

    def encode(self, texts: list[str], progress: BatchProgress | None = None) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        distinct = list(dict.fromkeys(hashes))
        known = self.cache.get_many(self.name, distinct)
        missing: dict[str, str] = {}
        for sha, text in zip(hashes, texts):
            if sha not in known and sha not in missing:
                missing[sha] = text
        self.last_misses_ = len(missing)
        if progress:
            progress(len(known), len(distinct))
        keys, pending = list(missing), list(missing.values())
        for start in range(0, len(pending), self.write_block):
            block = pending[start:start + self.write_block]

            def report(done: int, total: int, before: int = len(known)) -> None:
                if progress:
                    progress(before + done, len(distinct))

            new = dict(zip(keys[start:start + len(block)], self.embedder.encode(block, progress=report)))
            self.cache.put_many(self.name, new)
            known.update(new)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack([known[sha] for sha in hashes]).astype(np.float32)
