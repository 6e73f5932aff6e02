"""Storage below everything that stores: run folders (config, status, data snapshot, artifacts) and atomic writes.

Every write goes to a temporary file that replaces the old one, so a reader (or a crash) sees the old or the new
content, never half of it."""
from __future__ import annotations

import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CONFIG = "config.json"
STATUS = "status.json"
INPUT = "input.parquet"
EMBEDDINGS = "embeddings.npy"
PROJECTION = "projection.npy"
LABELS = "labels.npy"
METRICS = "metrics.json"
TREE = "tree.npz"
LOG = "log.txt"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so readers see the old or the new content, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Folder:
    """Typed access to the files of one folder (a run's, a project's); every write is atomic."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def exists(self, name: str) -> bool:
        return self.file(name).exists()

    def write_json(self, name: str, value: Any) -> None:
        atomic_write_bytes(self.file(name), dumps_json(value).encode("utf-8"))

    def read_json(self, name: str, default: Any = None) -> Any:
        try:
            return json.loads(self.file(name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return default

    def save_array(self, name: str, array: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array))
        atomic_write_bytes(self.file(name), buffer.getvalue())

    def load_array(self, name: str) -> np.ndarray:
        return np.load(self.file(name), allow_pickle=False)

    def save_arrays(self, name: str, **arrays: np.ndarray) -> None:
        """Several named arrays in one .npz file."""
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_bytes(self.file(name), buffer.getvalue())

    def load_arrays(self, name: str) -> dict[str, np.ndarray]:
        with np.load(self.file(name), allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}

    def save_frame(self, name: str, frame: pd.DataFrame) -> None:
        """Save a data snapshot as Parquet; mixed-type object columns are stored as text."""
        buffer = io.BytesIO()
        try:
            frame.to_parquet(buffer, index=False)
        except (TypeError, ValueError):  # pyarrow rejects mixed-type object columns
            buffer = io.BytesIO()
            safe = frame.copy()
            for column in safe.columns:
                if safe[column].dtype == object:
                    safe[column] = safe[column].map(lambda v: v if v is None or isinstance(v, str) else str(v))
            safe.to_parquet(buffer, index=False)
        atomic_write_bytes(self.file(name), buffer.getvalue())

    def load_frame(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.file(name))


class RunDirectory(Folder):
    """The folder of one run: its config, status, data snapshot, artifacts and log."""

    @property
    def run_id(self) -> str:
        return self.path.name

    def log(self, message: str) -> None:
        """Append a timestamped line to the run's log."""
        with self.file(LOG).open("a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")


def dumps_json(value: Any) -> str:
    """Strict JSON (NaN and infinities become null; numpy values become Python ones)."""
    return json.dumps(_plain(value), indent=2, allow_nan=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value
