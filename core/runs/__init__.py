"""Runs: a folder per run, a SQLite catalogue, the pure run function and the background job manager."""
from __future__ import annotations

import pandas as pd

from core import paths
from core.storage import RunDirectory
from core.runs.execute import execute_run, load_run_dataset, prepare_run
from core.runs.jobs import JobManager
from core.runs.store import RunRecord, RunStore
from core.settings import RunConfig


def default_store() -> RunStore:
    """The catalogue and run folders under the ClusterLens home."""
    return RunStore(paths.catalogue_path(), paths.runs_root())


def create_run(store: RunStore, config: RunConfig, frame: pd.DataFrame, *, owner: str,
               parent: str | None = None) -> RunRecord:
    """Register a run and write its config and data snapshot; nothing is left behind when the settings are invalid."""
    record = store.create(owner=owner, method=config.method, dataset=config.dataset, kind=config.kind, parent=parent)
    try:
        prepare_run(record.directory, config, frame)
    except BaseException:
        store.delete(record.id)
        raise
    return store.get(record.id)


__all__ = ["RunDirectory", "RunStore", "RunRecord", "JobManager", "execute_run", "prepare_run", "load_run_dataset",
           "create_run", "default_store"]
