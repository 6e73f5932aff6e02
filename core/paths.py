"""Where ClusterLens keeps its state: runs, the SQLite catalogue, caches and converted models."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def home() -> Path:
    """The state folder: $CLUSTERLENS_HOME, else `.clusterlens/` in the repository (git-ignored)."""
    path = Path(os.environ.get("CLUSTERLENS_HOME") or REPO_ROOT / ".clusterlens")
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_root() -> Path:
    """Folder holding one sub-folder per run."""
    path = home() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def catalogue_path() -> Path:
    """The SQLite database listing runs (and, later, judgments)."""
    return home() / "clusterlens.sqlite"


def cache_dir() -> Path:
    """Caches shared across runs (embeddings by content hash)."""
    path = home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def bench_dir() -> Path:
    """Work folders of benchmark runs (checkpoints, fine-tuned models)."""
    path = home() / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Models assembled or converted once from installed packages (MPNet, SmolLM2)."""
    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
