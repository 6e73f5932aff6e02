"""Choosing the executor runs go to: a thread, a subprocess (the default) or a Ray cluster (optional install)."""
from __future__ import annotations

import os

from core.errors import ClusterLensError
from core.runs.executors import DEFAULT_EXECUTOR, QueueExecutor, SubprocessExecutor, ThreadExecutor
from core.runs.store import RunStore

EXECUTORS = ("thread", "subprocess", "ray")


def make_executor(store: RunStore, kind: str | None = None) -> QueueExecutor:
    """The executor named by `kind` or $CLUSTERLENS_EXECUTOR (thread, subprocess or ray; default DEFAULT_EXECUTOR), on
    $CLUSTERLENS_WORKERS slots. "ray" connects to $RAY_ADDRESS (or starts a local Ray) and needs `make ray`."""
    kind = kind or os.environ.get("CLUSTERLENS_EXECUTOR", "").strip() or DEFAULT_EXECUTOR
    if kind == "thread":
        return ThreadExecutor(store)
    if kind == "subprocess":
        return SubprocessExecutor(store)
    if kind == "ray":
        from core.runs.ray_engine import RayExecutor

        return RayExecutor(store)
    raise ClusterLensError(f"CLUSTERLENS_EXECUTOR must be one of {', '.join(EXECUTORS)}, not {kind!r}.")
