"""The subprocess executor with real processes and a real catalogue: a run outlives the process that submitted it,
reports through the catalogue, and obeys cancel; and the executor is chosen from the environment."""
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from core.errors import ClusterLensError
from core.runs import SubprocessExecutor, ThreadExecutor, create_run, default_store, make_executor
from core.runs.executors import configured_workers
from core.settings import RunConfig
from tests.unit.fake_runs import RELEASE

REPO = Path(__file__).resolve().parents[2]
RUNNER = "tests.unit.fake_runs:reports_then_waits"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A ClusterLens home of this test's own, which the worker processes inherit."""
    monkeypatch.setenv("CLUSTERLENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def new_run(store, owner="tab"):
    frame = pd.DataFrame({"text": ["a b", "c d", "e f"]})
    config = RunConfig(method="baseline", dataset="tiny", kind="text", roles={"text": "text"})
    return create_run(store, config, frame, owner=owner)


def wait_for(store, run_id, condition, timeout=120.0):
    """The run's record once `condition(record)` holds (worker processes need a few seconds to import)."""
    deadline = time.monotonic() + timeout
    while not condition(record := store.get(run_id)):
        assert time.monotonic() < deadline, f"timed out: {record}"
        time.sleep(0.1)
    return record


def test_a_subprocess_run_outlives_its_submitter_and_reports_through_the_catalogue(home):
    store = default_store()
    record = new_run(store)
    submitter = textwrap.dedent(f"""
        from core.runs import SubprocessExecutor, default_store
        SubprocessExecutor(default_store(), runner={RUNNER!r}, workers=1, pump_seconds=None).submit({record.id!r})
    """)
    subprocess.run([sys.executable, "-c", submitter], cwd=REPO, check=True, timeout=120)  # it exits at once
    running = wait_for(store, record.id, lambda run: run.stage == "embed")
    assert running.status == "running" and running.progress == 0.5 and running.message == "half way"
    assert running.worker.startswith("subprocess:") and running.heartbeat is not None
    (record.path / RELEASE).touch()
    done = wait_for(store, record.id, lambda run: run.status != "running")
    assert (done.status, done.progress, done.summary) == ("done", 1.0, {"k": 2})


def test_cancel_a_queued_and_a_running_subprocess_run(home):
    store = default_store()
    with SubprocessExecutor(store, runner=RUNNER, workers=1, pump_seconds=None) as executor:
        first, second = new_run(store), new_run(store)
        executor.submit(first.id)
        executor.submit(second.id)
        assert executor.queue_position(second.id).place == 1
        assert executor.cancel(second.id) and store.get(second.id).status == "cancelled"
        wait_for(store, first.id, lambda run: run.stage == "embed")
        assert executor.cancel(first.id)
        cancelled = wait_for(store, first.id, lambda run: run.status != "running")
    assert (cancelled.status, cancelled.progress) == ("cancelled", 0.5)
    assert store.get(second.id).status == "cancelled" and store.get(second.id).worker is None


def test_the_executor_and_its_slots_come_from_the_environment(home, monkeypatch):
    store = default_store()
    monkeypatch.setenv("CLUSTERLENS_EXECUTOR", "thread")
    monkeypatch.setenv("CLUSTERLENS_WORKERS", "3")
    with make_executor(store) as executor:
        assert isinstance(executor, ThreadExecutor) and executor.workers == 3
    monkeypatch.setenv("CLUSTERLENS_EXECUTOR", "dask")
    with pytest.raises(ClusterLensError, match="CLUSTERLENS_EXECUTOR must be one of thread, subprocess"):
        make_executor(store)
    monkeypatch.setenv("CLUSTERLENS_WORKERS", "many")
    with pytest.raises(ClusterLensError, match="CLUSTERLENS_WORKERS must be a whole number"):
        configured_workers()
    monkeypatch.delenv("CLUSTERLENS_WORKERS")
    assert configured_workers() >= 1
