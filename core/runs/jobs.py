"""Background jobs: one worker thread per device runs queued runs one after another, with cancel.

Workers never touch the UI: they report through the RunStore (SQLite row + status.json), which pages poll.
"""
from __future__ import annotations

import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from core.errors import ClusterLensError, RunCancelled
from core.storage import CONFIG, RunDirectory
from core.runs.execute import execute_run
from core.runs.store import RunStore
from core.settings import RunConfig

Runner = Callable[..., dict[str, Any]]
PROGRESS_INTERVAL_SECONDS = 0.5


class JobManager:
    """Queues runs per device and executes them on worker threads; `cancel` stops a queued or running job."""

    def __init__(self, store: RunStore, *, devices: list[str] | None = None, runner: Runner = execute_run) -> None:
        self.store = store
        self.devices = devices
        self.runner = runner
        self._queues: dict[str, queue.Queue[str | None]] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def device_for(self, requested: str) -> str:
        """The worker a run goes to: the requested device, or the best available one for "auto"."""
        if self.devices is None:
            from core.device import available_devices

            self.devices = available_devices()
        if requested == "auto" or requested not in self.devices:
            return self.devices[0]
        return requested

    def submit(self, run_id: str, device: str = "auto") -> None:
        """Queue a run (new, or interrupted and resumed) on a device's worker."""
        target = self.device_for(device)
        with self._lock:
            self._stops[run_id] = threading.Event()
            if target not in self._workers or not self._workers[target].is_alive():
                self._queues[target] = queue.Queue()
                worker = threading.Thread(target=self._work, args=(target,), name=f"clusterlens-{target}", daemon=True)
                self._workers[target] = worker
                worker.start()
        self.store.update(run_id, status="queued", stage="queued", progress=0.0, message=f"Waiting for {target}",
                          pid=os.getpid())
        self._queues[target].put(run_id)

    def cancel(self, run_id: str) -> bool:
        """Ask a queued or running job to stop; returns False when this manager does not know the run."""
        with self._lock:
            stop = self._stops.get(run_id)
        if stop is None:
            return False
        stop.set()
        if self.store.get(run_id).status == "queued":
            self.store.update(run_id, status="cancelled", stage="cancelled", message="Cancelled before it started")
        return True

    def is_active(self, run_id: str) -> bool:
        """True while the run is queued or running in this process."""
        with self._lock:
            return run_id in self._stops

    def wait(self, run_id: str, timeout: float = 600.0) -> str:
        """Block until a run leaves this manager (for tests and scripts); returns its final status."""
        deadline = time.monotonic() + timeout
        while self.is_active(run_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.store.get(run_id).status

    def shutdown(self) -> None:
        """Stop every job and let the workers exit."""
        with self._lock:
            for stop in self._stops.values():
                stop.set()
            for work in self._queues.values():
                work.put(None)

    def _work(self, device: str) -> None:
        work = self._queues[device]
        while True:
            run_id = work.get()
            if run_id is None:
                return
            with self._lock:
                stop = self._stops.get(run_id)
            if stop is None or stop.is_set():
                self._forget(run_id)
                continue
            try:
                self._execute(run_id, device, stop)
            finally:
                self._forget(run_id)

    def _execute(self, run_id: str, device: str, stop: threading.Event) -> None:
        directory = RunDirectory(self.store.runs_root / run_id)
        self.store.update(run_id, status="running", stage="starting", message=f"Running on {device}", pid=os.getpid())
        try:
            config = replace(RunConfig.from_dict(directory.read_json(CONFIG)), device=device)
            summary = self.runner(config, directory.path, self._progress_writer(run_id), stop.is_set)
        except RunCancelled:
            self.store.update(run_id, status="cancelled", stage="cancelled", message="Cancelled")
        except ClusterLensError as error:
            directory.log(f"failed: {error}")
            self.store.update(run_id, status="failed", stage="failed", message=str(error))
        except Exception as error:  # a bug: keep the trace in the run's log, show one line to the user
            directory.log(traceback.format_exc())
            self.store.update(run_id, status="failed", stage="failed",
                              message=f"Internal error ({type(error).__name__}: {error}). Details are in the run's log.")
        else:
            self.store.update(run_id, status="done", stage="done", progress=1.0, message="Finished", summary=summary)

    def _progress_writer(self, run_id: str) -> Callable[[str, float, str], None]:
        """A progress callback that writes to the store at most twice a second (and at every new stage)."""
        last = {"stage": "", "time": 0.0}

        def write(stage: str, fraction: float, message: str) -> None:
            now = time.monotonic()
            if stage != last["stage"] or now - last["time"] >= PROGRESS_INTERVAL_SECONDS:
                last.update(stage=stage, time=now)
                self.store.update(run_id, stage=stage, progress=float(fraction), message=message)

        return write

    def _forget(self, run_id: str) -> None:
        with self._lock:
            self._stops.pop(run_id, None)
