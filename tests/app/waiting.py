"""Waiting for background runs started from an AppTest (an executor runs them; their status is in the catalogue)."""
from __future__ import annotations

import time

from core.runs.store import RunRecord
from pages.common import run_store

UNFINISHED = ("queued", "running", "created")


def wait_for_runs(workspace: str, *, method: str | None = None,
                  timeout: float = 240.0) -> list[RunRecord]:
    """The workspace's runs (of `method`, when given) once none is still queued or running; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [run for run in run_store().list(owner=workspace) if method in (None, run.method)]
        if runs and all(run.status not in UNFINISHED for run in runs):
            return runs
        time.sleep(0.5)
    raise AssertionError(f"the {method + ' ' if method else ''}run did not finish in time")
