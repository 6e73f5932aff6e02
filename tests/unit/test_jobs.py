"""The job manager: runs go through queued -> running -> done/failed/cancelled, reported through the store."""
import time

import pandas as pd
import pytest

from core.errors import SettingsError
from core.runs import JobManager, RunStore, create_run
from core.storage import LOG
from core.settings import RunConfig


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "catalogue.sqlite", tmp_path / "runs")


def new_run(store):
    frame = pd.DataFrame({"text": ["a b", "c d", "e f"]})
    config = RunConfig(method="baseline", dataset="tiny", kind="text", roles={"text": "text"})
    return create_run(store, config, frame, owner="tab")


def test_successful_run_reports_progress_and_summary(store):
    seen = []

    def runner(config, run_dir, progress, should_stop):
        progress("embed", 0.5, "half way")
        seen.append(store.get(run_dir.name).stage)
        return {"k": 2}

    manager = JobManager(store, devices=["cpu"], runner=runner)
    record = new_run(store)
    manager.submit(record.id)
    assert manager.wait(record.id, timeout=20) == "done"
    assert seen == ["embed"]
    assert store.get(record.id).summary == {"k": 2}


def test_cancel_stops_a_running_job(store):
    started = []

    def runner(config, run_dir, progress, should_stop):
        started.append(True)
        while not should_stop():
            time.sleep(0.01)
        from core.errors import RunCancelled
        raise RunCancelled("stop")

    manager = JobManager(store, devices=["cpu"], runner=runner)
    record = new_run(store)
    manager.submit(record.id)
    while not started:
        time.sleep(0.01)
    assert manager.cancel(record.id)
    assert manager.wait(record.id, timeout=20) == "cancelled"


def test_queued_job_cancelled_before_it_starts(store):
    release = []

    def runner(config, run_dir, progress, should_stop):
        while not release:
            time.sleep(0.01)
        return {}

    manager = JobManager(store, devices=["cpu"], runner=runner)
    first, second = new_run(store), new_run(store)
    manager.submit(first.id)
    manager.submit(second.id)
    assert store.get(second.id).status == "queued"
    manager.cancel(second.id)
    release.append(True)
    assert manager.wait(first.id, timeout=20) == "done"
    assert manager.wait(second.id, timeout=20) == "cancelled"


def test_user_error_and_bug_both_end_failed_with_one_line(store):
    def user_error(config, run_dir, progress, should_stop):
        raise SettingsError("k must be at most 3.")

    def bug(config, run_dir, progress, should_stop):
        raise ZeroDivisionError("oops")

    for runner, expected in ((user_error, "k must be at most 3."), (bug, "Internal error (ZeroDivisionError")):
        manager = JobManager(store, devices=["cpu"], runner=runner)
        record = new_run(store)
        manager.submit(record.id)
        assert manager.wait(record.id, timeout=20) == "failed"
        assert store.get(record.id).message.startswith(expected)
    assert "Traceback" in (record.path / LOG).read_text()
