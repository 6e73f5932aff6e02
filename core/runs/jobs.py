"""The one job function every executor runs, in a thread, a subprocess or (later) on another machine.

`run_job` claims a run in the catalogue, runs it with a heartbeat, a throttled progress writer and a stop flag read
from the catalogue, and records how it ended. Nothing it does can leave a run stuck: every status write is inside
the error handling, and when even the last write fails the heartbeat stops, so the run reads "interrupted".
"""
from __future__ import annotations

import contextlib
import importlib
import os
import socket
import sqlite3
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from core.errors import ClusterLensError, RunCancelled
from core.progress import ProgressFn
from core.runs.disk import remove_checkpoints
from core.runs.estimates import EstimateLog
from core.runs.execute import execute_run
from core.runs.store import RunStore
from core.settings import RunConfig
from core.storage import CONFIG, RunDirectory

Runner = Callable[..., dict[str, Any]]
"""runner(config, run_dir, progress, should_stop) -> summary, like execute_run."""
HEARTBEAT_SECONDS = 5.0
PROGRESS_SECONDS = 0.5
CANCEL_POLL_SECONDS = 1.0


def worker_name(kind: str) -> str:
    """A name no other worker has: its kind, machine, process and a random part (one per job)."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class RunOutcome:
    """How a job ended: "done", "failed" or "cancelled", the message shown, the summary, and the error if any."""

    status: str
    message: str
    summary: dict[str, Any] = field(default_factory=dict)
    error: Exception | None = None


class ProgressWriter:
    """The progress callback a run gets: writes to the catalogue at every new stage and at most every `interval`
    seconds otherwise, passes every report to `echo` (the command line's stderr lines), and keeps the last report so
    the outcome can carry it."""

    def __init__(self, store: RunStore, run_id: str, worker: str, *, interval: float = PROGRESS_SECONDS,
                 echo: ProgressFn | None = None) -> None:
        self.store, self.run_id, self.worker = store, run_id, worker
        self.interval = interval
        self.echo = echo
        self.fraction = 0.0
        self._written: tuple[str, float] = ("", float("-inf"))

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        self.fraction = float(fraction)
        if self.echo is not None:
            self.echo(stage, fraction, message)
        now = time.monotonic()
        if stage != self._written[0] or now - self._written[1] >= self.interval:
            self._written = (stage, now)
            self.store.report(self.run_id, self.worker, stage, fraction, message)


class CancelFlag:
    """The `should_stop` a run gets: the catalogue's cancel flag, read at most every `interval` seconds."""

    def __init__(self, store: RunStore, run_id: str, worker: str, *, interval: float = CANCEL_POLL_SECONDS) -> None:
        self.store, self.run_id, self.worker = store, run_id, worker
        self.interval = interval
        self._checked = float("-inf")
        self._stop = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self._stop and now - self._checked >= self.interval:
            self._checked = now
            self._stop = self.store.should_stop(self.run_id, self.worker)
        return self._stop


class Heartbeat:
    """A daemon thread writing the worker's heartbeat every `interval` seconds while the job runs."""

    def __init__(self, store: RunStore, run_id: str, worker: str, interval: float = HEARTBEAT_SECONDS) -> None:
        self.store, self.run_id, self.worker = store, run_id, worker
        self.interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self.interval):
            try:
                if not self.store.beat(self.run_id, self.worker):
                    return  # the run ended or another worker holds it
            except (OSError, sqlite3.Error):  # a full or busy disk: the next beat may get through
                continue


def run_job(store: RunStore, run_id: str, *, worker: str, runner: Runner = execute_run,
            echo: ProgressFn | None = None) -> RunOutcome | None:
    """Run a catalogued run to its end in this process and record how it ended; None when it was not this worker's
    to run (cancelled before it started, or held by another worker). A finished run's checkpoints are removed."""
    record = store.claim(run_id, worker)
    if record is None:
        return None
    progress = ProgressWriter(store, run_id, worker, echo=echo)
    started, whole = time.monotonic(), record.progress == 0.0  # a resumed run's time says little of a whole run's
    with Heartbeat(store, run_id, worker):
        outcome = _attempt(record.directory, runner, progress, CancelFlag(store, run_id, worker))
        _record(store, run_id, worker, record.directory, outcome, progress.fraction)
    if outcome.status == "done" and whole:
        _learn_duration(store, run_id, time.monotonic() - started)
    return outcome


def _attempt(directory: RunDirectory, runner: Runner, progress: ProgressWriter,
             should_stop: CancelFlag) -> RunOutcome:
    """Run the runner and say how it ended; every error becomes an outcome, none escapes."""
    try:
        config = RunConfig.from_dict(directory.read_json(CONFIG))
        summary = runner(config, directory.path, progress, should_stop)
        remove_checkpoints(directory)
        return RunOutcome("done", "Finished", summary)
    except RunCancelled as error:
        return RunOutcome("cancelled", "Cancelled", error=error)
    except ClusterLensError as error:
        _log(directory, f"failed: {error}")
        return RunOutcome("failed", str(error), error=error)
    except OSError as error:  # no space left, a read-only or vanished folder: the machine, not the settings
        _log(directory, traceback.format_exc())
        return RunOutcome("failed", f"The run could not read or write its files ({error.strerror or error}). Free "
                                    "some disk space or check the ClusterLens folder, then resume it.", error=error)
    except Exception as error:  # a bug: keep the trace in the run's log, show one line to the user
        _log(directory, traceback.format_exc())
        first_line = " ".join(str(error).split())
        return RunOutcome("failed", f"Internal error ({type(error).__name__}: {first_line}). Details are in the "
                                    "run's log.", error=error)


def _record(store: RunStore, run_id: str, worker: str, directory: RunDirectory, outcome: RunOutcome,
            fraction: float) -> None:
    """Write the outcome; when the catalogue refuses it, try a bare "failed", then leave the run to its heartbeat
    (which stops with this job, so the run reads "interrupted" and can be resumed)."""
    progress = 1.0 if outcome.status == "done" else fraction
    attempts = [dict(status=outcome.status, message=outcome.message, progress=progress, summary=outcome.summary),
                dict(status="failed", message="The run ended but its outcome could not be saved (is the disk full?). "
                                              "Resume it once there is space.")]
    for fields in attempts:
        try:
            store.finish(run_id, worker, **fields)
            return
        except (OSError, sqlite3.Error) as error:
            _log(directory, f"could not record the outcome: {error}")


def _learn_duration(store: RunStore, run_id: str, seconds: float) -> None:
    """Tell the estimates how long this run took (best effort: an estimate is not worth failing a finished run)."""
    with contextlib.suppress(OSError, sqlite3.Error):
        EstimateLog(store.db_path).finished(run_id, seconds)


def _log(directory: RunDirectory, message: str) -> None:
    """Append to the run's log when the disk allows (a full disk must not hide the outcome)."""
    try:
        directory.log(message)
    except OSError:
        pass


def named_runner(spec: str) -> Runner:
    """The run function named "module:function", imported when the run starts, so that a bad name fails the run
    (with the trace in its log) instead of leaving it queued for the next worker to trip over."""

    def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
        module, _, name = spec.partition(":")
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return run
