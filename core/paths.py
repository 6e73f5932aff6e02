"""Where ClusterLens keeps its state: runs, projects, the SQLite catalogue, caches and converted models."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def home() -> Path:
    """The state folder: $CLUSTERLENS_HOME, else `.clusterlens/` in the repository (git-ignored)."""
    path = Path(os.environ.get("CLUSTERLENS_HOME") or REPO_ROOT / ".clusterlens")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _folder(name: str) -> Path:
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def catalogue_path() -> Path:
    """The SQLite database of runs, judges' answers and edits."""
    return home() / "clusterlens.sqlite"


def runs_root() -> Path:
    """Folder holding one sub-folder per run."""
    return _folder("runs")


def workspaces_root() -> Path:
    """Folder holding one sub-folder per project (its data sets and state)."""
    return _folder("workspaces")


def cache_dir() -> Path:
    """Caches shared across runs (embeddings by content hash)."""
    return _folder("cache")


def bench_dir() -> Path:
    """Work folders of benchmark runs (checkpoints, fine-tuned models)."""
    return _folder("bench")


def models_dir() -> Path:
    """Models assembled or converted once from installed packages (MPNet, SmolLM2)."""
    return _folder("models")


def numba_cache_dir() -> Path:
    """umap-learn's functions as numba compiled them, so that a new process loads them instead of compiling again."""
    return _folder("numba")
