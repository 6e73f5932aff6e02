"""Fake run functions for executor tests, importable by name ("tests.unit.fake_runs:...") in a worker subprocess."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core.progress import ProgressFn, StopFn, check_stop

RELEASE = "release"
"""A file the test writes into the run folder to let `reports_then_waits` finish."""


def reports_then_waits(config: Any, run_dir: str | Path, progress: ProgressFn, should_stop: StopFn,
                       **collaborators: Any) -> dict:
    """Report half way, then wait until the test releases the run (or cancels it); a minute at most. Collaborators
    (a Ray executor's embedders and row map) are ignored."""
    progress("embed", 0.5, "half way")
    deadline = time.monotonic() + 60
    while not (Path(run_dir) / RELEASE).exists():
        check_stop(should_stop)
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released this run")
        time.sleep(0.05)
    progress("cluster", 0.8, "clustering")
    return {"k": 2}
