"""Executors: where runs execute, behind one seam (`submit`, `cancel`).

The catalogue is the queue. An executor puts a run in it, and starts the fairest waiting runs while fewer than its
number of slots are busy; each run is one call of `run_job`, which reports only through the catalogue. Executors
differ only in `launch`, how a job is started: a thread of this process, or a detached subprocess that outlives the
server. The Ray executor (core/runs/ray_engine.py) is one more `launch`, which sends `run_job` to a cluster node;
`core.runs.engines.make_executor` picks one.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from types import TracebackType
from typing import ClassVar, Protocol

from core import paths
from core.errors import ClusterLensError
from core.runs.disk import check_disk_budget, disk_budget_mb
from core.runs.execute import execute_run
from core.runs.jobs import Runner, run_job, worker_name
from core.runs.queue import QueuePosition
from core.runs.store import ACTIVE, RunStore
from core.storage import LOG

DEFAULT_EXECUTOR = "subprocess"
"""What `make run` uses when $CLUSTERLENS_EXECUTOR is not set. A subprocess costs each run 30-40 s more on a loaded
2-core machine (imports, then UMAP's compilation, which a long-lived server pays once), and in return a run survives
server restarts, cannot crash the server and gives its memory back: bench_results/executors.md."""
DEFAULT_RUNNER = "core.runs.execute:execute_run"
RUN_MEMORY_GB = 3.0
"""Memory to allow per run: ClusterLLM fine-tuning MiniLM peaked at 1.8 GB resident (bench_results/executors.md);
MPNet and SmolLM2-135M are larger models."""
PUMP_SECONDS = 2.0
QUIET_LIBRARIES = {"TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
"""Defaults for a worker process, whose output goes to the run's log: no progress bars or info lines there."""


class Executor(Protocol):
    """The seam: pages and scripts submit and cancel runs; status and progress are read from the catalogue."""

    def submit(self, run_id: str) -> None:
        """Queue a created (or resumable) run; it starts when a slot is free."""

    def cancel(self, run_id: str) -> bool:
        """Stop a queued run at once, a running one at its next safe point; False when it was neither."""


def default_workers() -> int:
    """How many runs execute at once when $CLUSTERLENS_WORKERS is not set: one per CPU core this process may use,
    at most one per RUN_MEMORY_GB of memory, at least one.

    A run is a CPU-bound PyTorch/NumPy job that already spreads over every core, so runs beyond the core count only
    slow each other down and crowd memory. Up to it, though, sharing is what keeps the queue fair: on 2 cores two runs
    each go at about half speed, so one person's 1-minute baseline next to another's 20-minute fine-tuning takes
    about 2 minutes instead of waiting 21. On this project's reference machine (2 cores, 24 GB) that is 2.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (AttributeError, ValueError, OSError):  # not a POSIX system: go by the cores alone
        return max(1, cores)
    return max(1, min(cores, int(memory_gb // RUN_MEMORY_GB)))


def configured_workers() -> int:
    """$CLUSTERLENS_WORKERS, or default_workers()."""
    raw = os.environ.get("CLUSTERLENS_WORKERS", "").strip()
    if not raw:
        return default_workers()
    if not raw.isdigit() or int(raw) < 1:
        raise ClusterLensError(f"CLUSTERLENS_WORKERS must be a whole number of runs at once (1 or more), not {raw!r}.")
    return int(raw)


class QueueExecutor(ABC):
    """An executor on the catalogue's fair queue: up to `workers` runs at once, the next one taken from the owner
    with the fewest busy runs (then the oldest). Besides submit and job ends, a pump thread looks at the queue every
    `pump_seconds`, so a restarted server picks up the queued runs and a slot freed by a dead worker is reused."""

    kind: ClassVar[str]

    def __init__(self, store: RunStore, *, workers: int | None = None,
                 pump_seconds: float | None = PUMP_SECONDS) -> None:
        self.store = store
        self.workers = workers or configured_workers()
        self._closed = threading.Event()
        if pump_seconds is not None:
            threading.Thread(target=self._pump, args=(pump_seconds,), name=f"clusterlens-{self.kind}-queue",
                             daemon=True).start()

    def submit(self, run_id: str) -> None:
        """Queue a run (new, or resumed) and start it when a slot is free. While the ClusterLens folder (the one
        holding the catalogue) is over its disk budget the run is refused: it ends "failed" with the reason."""
        try:
            check_disk_budget(self.store.db_path.parent, disk_budget_mb())
        except ClusterLensError as error:
            if self.store.get(run_id).status not in ACTIVE:
                self.store.update(run_id, status="failed", stage="failed", message=str(error))
            raise
        self.store.enqueue(run_id)
        self.dispatch()

    def cancel(self, run_id: str) -> bool:
        return self.store.request_cancel(run_id)

    def queue_position(self, run_id: str) -> QueuePosition | None:
        """Where a queued run stands, with an estimated wait; None when it is not waiting."""
        return self.store.queue_position(run_id, self.workers)

    def dispatch(self) -> None:
        """Start waiting runs while slots are free."""
        while (run_id := self.store.reserve_next(worker := worker_name(self.kind), self.workers)) is not None:
            self.launch(run_id, worker)

    @abstractmethod
    def launch(self, run_id: str, worker: str) -> None:
        """Start `run_job(store, run_id, worker=worker)` somewhere; the run is reserved for `worker`."""

    def wait(self, run_id: str, timeout: float = 600.0) -> str:
        """Block until a run is no longer queued or running (for tests and scripts); return its status."""
        deadline = time.monotonic() + timeout
        while (status := self.store.get(run_id).status) in ACTIVE and time.monotonic() < deadline:
            time.sleep(0.05)
        return status

    def shutdown(self) -> None:
        """Stop looking at the queue (runs already started go on)."""
        self._closed.set()

    def __enter__(self) -> QueueExecutor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.shutdown()

    def _pump(self, seconds: float) -> None:
        while not self._closed.wait(seconds):
            try:
                self.dispatch()
            except (OSError, sqlite3.Error):  # a busy or full disk, or no process to spare: the next look retries
                continue


class ThreadExecutor(QueueExecutor):
    """Runs in threads of this process: no start-up cost, but the runs stop with the process (a restarted server
    finds them interrupted) and share its memory."""

    kind: ClassVar[str] = "thread"

    def __init__(self, store: RunStore, *, runner: Runner = execute_run, workers: int | None = None,
                 pump_seconds: float | None = PUMP_SECONDS) -> None:
        self.runner = runner
        super().__init__(store, workers=workers, pump_seconds=pump_seconds)

    def launch(self, run_id: str, worker: str) -> None:
        threading.Thread(target=self._job, args=(run_id, worker), name=f"clusterlens-run-{run_id}",
                         daemon=True).start()

    def _job(self, run_id: str, worker: str) -> None:
        try:
            run_job(self.store, run_id, worker=worker, runner=self.runner)
        finally:
            self.dispatch()


class SubprocessExecutor(QueueExecutor):
    """Runs each run in its own detached process (`python -m core.runs.worker`, a new session, the same
    CLUSTERLENS_HOME), so it survives a page reload and a server restart and gives its memory back when it ends. A
    worker starts the next queued runs when it finishes, so the queue drains even with no server. `runner` names the
    run function as "module:function", since it is imported in the new process."""

    kind: ClassVar[str] = "subprocess"

    def __init__(self, store: RunStore, *, runner: str = DEFAULT_RUNNER, workers: int | None = None,
                 pump_seconds: float | None = PUMP_SECONDS) -> None:
        self.runner = runner
        super().__init__(store, workers=workers, pump_seconds=pump_seconds)

    def launch(self, run_id: str, worker: str) -> None:
        command = [sys.executable, "-m", "core.runs.worker", run_id, "--worker", worker, "--runner", self.runner,
                   "--workers", str(self.workers), "--catalogue", str(self.store.db_path),
                   "--runs-root", str(self.store.runs_root)]
        env = {**QUIET_LIBRARIES, **os.environ, "CLUSTERLENS_HOME": str(paths.home())}
        with (self.store.get(run_id).path / LOG).open("ab") as log:  # the worker's own output goes to the run's log
            subprocess.Popen(command, cwd=paths.REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
