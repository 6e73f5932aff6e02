"""The real run function (execute_run) with a fault at a chosen point, for the fault suite; no hook in product code.

A worker process runs `tests.faults.killing_runner:kill_at_point` (`--runner`), which SIGKILLs its own process the
first time the run reaches the point named in $CLUSTERLENS_TEST_KILL_AT. In-process tests use `fault_runner` with any
action (request a cancel, raise "No space left on device").

Points, in the order a ClusterLLM run reaches them:
  embed      the first "embed" progress report (the embedder is loading)
  ask        right after the judge's first chunk of triplet answers is stored (more questions are left to ask)
  fine-tune  the first "fine-tune" progress report (one optimiser step done, the epoch not finished)
  pairs      right after the judge's first chunk of pair answers is stored (choosing k, more pairs left)
  cluster    the first "cluster" progress report
  write      while embeddings.npy is written: half its bytes are in the temporary file, none in place
"""
from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import core.storage
from core.llm.judges import Answer
from core.llm.store import JudgmentStore, Kind
from core.progress import ProgressFn, StopFn
from core.runs.execute import execute_run
from core.runs.jobs import Runner
from core.storage import EMBEDDINGS

KILL_AT = "CLUSTERLENS_TEST_KILL_AT"
POINTS = ("embed", "ask", "fine-tune", "pairs", "cluster", "write")
PROGRESS_POINTS = {"embed": "embed", "fine-tune": "fine-tune", "cluster": "cluster"}
ANSWER_POINTS: dict[str, Kind] = {"ask": "triplet", "pairs": "pair"}


class Once:
    """Calls `action` the first time it is called, never again."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.fired = False

    def __call__(self) -> None:
        if not self.fired:
            self.fired = True
            self.action()


class FiringJudgmentStore(JudgmentStore):
    """The real answer store, which fires once the first chunk of fresh (paid) answers of `kind` is stored."""

    def __init__(self, kind: Kind | None, fire: Once) -> None:
        super().__init__()
        self.kind, self.fire = kind, fire

    def record_many(self, run: str, kind: Kind, model: str, prompt_version: str,
                    items: Sequence[tuple[Sequence[str], Answer, bool]]) -> None:
        super().record_many(run, kind, model, prompt_version, items)
        if kind == self.kind and any(not reused for _, _, reused in items):
            self.fire()


def firing_progress(progress: ProgressFn, stage: str | None, fire: Once) -> ProgressFn:
    """`progress`, firing after the first report of `stage` went through."""

    def report(name: str, fraction: float, message: str) -> None:
        progress(name, fraction, message)
        if name == stage:
            fire()

    return report


@contextmanager
def firing_writes(fire: Once | None) -> Iterator[None]:
    """While open, the write of embeddings.npy puts half its bytes in a temporary file beside it and fires (a kill
    there leaves what a crash mid-write leaves); then, if the process lives on, writes as usual."""
    real = core.storage.atomic_write_bytes

    def write(path: Path, data: bytes) -> None:
        if fire is not None and path.name == EMBEDDINGS:
            fd, _ = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data[:len(data) // 2])
            fire()
        real(path, data)

    core.storage.atomic_write_bytes = write
    try:
        yield
    finally:
        core.storage.atomic_write_bytes = real


def fault_runner(point: str, action: Callable[[], None]) -> Runner:
    """execute_run, calling `action` once when the run reaches `point` (one of POINTS)."""
    if point not in POINTS:
        raise ValueError(f"unknown fault point {point!r}; one of {', '.join(POINTS)}")

    def run(config: Any, run_dir: str | Path, progress: ProgressFn, should_stop: StopFn) -> dict[str, Any]:
        fire = Once(action)
        judgments = FiringJudgmentStore(ANSWER_POINTS.get(point), fire)
        with firing_writes(fire if point == "write" else None):
            return execute_run(config, run_dir, firing_progress(progress, PROGRESS_POINTS.get(point), fire),
                               should_stop, judgments=judgments)

    return run


def kill_at_point(config: Any, run_dir: str | Path, progress: ProgressFn, should_stop: StopFn) -> dict[str, Any]:
    """A worker's `--runner`: the real run, killed with SIGKILL (no cleanup, no last words) at $CLUSTERLENS_TEST_KILL_AT."""
    kill = fault_runner(os.environ[KILL_AT], lambda: os.kill(os.getpid(), signal.SIGKILL))
    return kill(config, run_dir, progress, should_stop)
