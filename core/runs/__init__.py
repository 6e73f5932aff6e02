"""Runs: a folder per run, the SQLite catalogue (also the queue), the pure run function, the job that runs it, and
the executors (thread, subprocess, Ray) behind one seam."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from core import paths
from core.data.dataset import Dataset
from core.storage import RunDirectory
from core.runs.estimates import EstimateLog, first_guess
from core.runs.execute import execute_run, load_run_dataset, prepare_run
from core.runs.engines import make_executor
from core.runs.executors import Executor, QueueExecutor, SubprocessExecutor, ThreadExecutor
from core.runs.jobs import RunOutcome, run_job, worker_name
from core.runs.queue import QueuePosition
from core.runs.store import RunRecord, RunStore
from core.settings import RunConfig


def default_store() -> RunStore:
    """The catalogue and run folders under the ClusterLens home."""
    return RunStore(paths.catalogue_path(), paths.runs_root())


def create_run(store: RunStore, config: RunConfig, frame: pd.DataFrame, *, owner: str,
               parent: str | None = None, path: str | Path | None = None) -> RunRecord:
    """Register a run (in its own folder under the runs root, or in `path`) and write its config and data snapshot;
    nothing is left in the catalogue when the settings are invalid."""
    record = store.create(owner=owner, method=config.method, dataset=config.dataset, kind=config.kind, parent=parent,
                          path=path)
    try:
        prepare_run(record.directory, config, frame)
        guess = first_guess(config, Dataset(frame, config.kind, config.roles, name=config.dataset))  # in memory
    except BaseException:
        store.delete(record.id)
        raise
    if guess is not None:
        EstimateLog(store.db_path).guessed(record.id, config.method, guess[1], len(frame), guess[0])
    return store.get(record.id)


__all__ = ["RunDirectory", "RunStore", "RunRecord", "Executor", "QueueExecutor", "ThreadExecutor", "SubprocessExecutor",
           "QueuePosition", "RunOutcome", "make_executor", "run_job", "worker_name", "execute_run", "prepare_run",
           "load_run_dataset", "create_run", "default_store"]
