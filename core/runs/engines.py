"""Choosing the executor runs go to: a thread, a subprocess (the default) or a Ray cluster (optional install)."""
from __future__ import annotations

import os

from core.errors import ClusterLensError
from core.runs.executors import DEFAULT_EXECUTOR, DEFAULT_RUNNER, QueueExecutor, SubprocessExecutor, ThreadExecutor
from core.runs.jobs import named_runner
from core.runs.store import RunStore

EXECUTORS = ("thread", "subprocess", "ray")


def make_executor(store: RunStore, kind: str | None = None, runner: str = DEFAULT_RUNNER) -> QueueExecutor:
    """The executor named by `kind` or $CLUSTERLENS_EXECUTOR (thread, subprocess or ray; default DEFAULT_EXECUTOR), on
    $CLUSTERLENS_WORKERS slots, running each run with the function `runner` names ("module:function"). "ray"
    connects to $RAY_ADDRESS (or starts a local Ray), needs `make ray`, and runs a method's run with Ray's own
    runner (which spreads the embedding over the cluster)."""
    kind = kind or os.environ.get("CLUSTERLENS_EXECUTOR", "").strip() or DEFAULT_EXECUTOR
    if kind == "thread":
        return ThreadExecutor(store, runner=named_runner(runner))
    if kind == "subprocess":
        return SubprocessExecutor(store, runner=runner)
    if kind == "ray":
        from core.runs.ray_engine import RayExecutor

        return RayExecutor(store)
    raise ClusterLensError(f"CLUSTERLENS_EXECUTOR must be one of {', '.join(EXECUTORS)}, not {kind!r}.")
