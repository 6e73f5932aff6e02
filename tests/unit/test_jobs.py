"""The job function on the thread executor: runs go through queued -> running -> done/failed/cancelled, reported
through the catalogue; no failure, not even of the catalogue's own writes, leaves a run stuck or the queue stalled."""
import threading
import time

import pandas as pd
import pytest

from core.errors import ClusterLensError, RunCancelled, SettingsError
from core.runs import RunStore, ThreadExecutor, create_run
from core.settings import RunConfig
from core.storage import LOG


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "catalogue.sqlite", tmp_path / "runs")


def new_run(store, owner="tab"):
    frame = pd.DataFrame({"text": ["a b", "c d", "e f"]})
    config = RunConfig(method="baseline", dataset="tiny", kind="text", roles={"text": "text"})
    return create_run(store, config, frame, owner=owner)


def executor(store, runner, **options):
    return ThreadExecutor(store, runner=runner, **{"workers": 1, "pump_seconds": 0.1, **options})


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_successful_run_reports_progress_and_summary(store):
    seen = []

    def runner(config, run_dir, progress, should_stop):
        progress("embed", 0.5, "half way")
        seen.append(store.get(run_dir.name).stage)
        return {"k": 2}

    with executor(store, runner) as manager:
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
        raise RunCancelled("stop")

    with executor(store, runner) as manager:
        record = new_run(store)
        manager.submit(record.id)
        wait_until(lambda: started)
        assert manager.cancel(record.id)
        assert manager.wait(record.id, timeout=20) == "cancelled"


def test_queued_job_cancelled_before_it_starts(store):
    release = []

    def runner(config, run_dir, progress, should_stop):
        while not release:
            time.sleep(0.01)
        return {}

    with executor(store, runner) as manager:
        first, second = new_run(store), new_run(store)
        manager.submit(first.id)
        manager.submit(second.id)
        assert store.get(second.id).status == "queued"
        manager.cancel(second.id)
        assert store.get(second.id).status == "cancelled"  # at once, not when a worker gets to it
        release.append(True)
        assert manager.wait(first.id, timeout=20) == "done"
        assert manager.wait(second.id, timeout=20) == "cancelled"


def test_user_error_and_bug_both_end_failed_with_one_line(store):
    def user_error(config, run_dir, progress, should_stop):
        raise SettingsError("k must be at most 3.")

    def bug(config, run_dir, progress, should_stop):
        raise ZeroDivisionError("oops")

    for runner, expected in ((user_error, "k must be at most 3."), (bug, "Internal error (ZeroDivisionError")):
        with executor(store, runner) as manager:
            record = new_run(store)
            manager.submit(record.id)
            assert manager.wait(record.id, timeout=20) == "failed"
            assert store.get(record.id).message.startswith(expected)
    assert "Traceback" in (record.path / LOG).read_text()


def test_a_full_disk_in_the_progress_write_fails_the_run_and_the_next_one_still_runs(store, monkeypatch):
    report = RunStore.report

    def report_on_a_full_disk(self, run_id, *args):
        if run_id == first.id:
            raise OSError(28, "No space left on device")
        report(self, run_id, *args)

    def runner(config, run_dir, progress, should_stop):
        progress("embed", 0.5, "half way")
        return {"k": 2}

    monkeypatch.setattr(RunStore, "report", report_on_a_full_disk)
    with executor(store, runner) as manager:
        first, second = new_run(store), new_run(store)
        manager.submit(first.id)
        manager.submit(second.id)
        assert manager.wait(first.id, timeout=20) == "failed"
        assert manager.wait(second.id, timeout=20) == "done"
    assert "No space left on device" in store.get(first.id).message
    assert "Free some disk space" in store.get(first.id).message


def test_when_even_the_outcome_cannot_be_written_the_run_reads_interrupted_and_the_queue_goes_on(tmp_path,
                                                                                                  monkeypatch):
    store = RunStore(tmp_path / "catalogue.sqlite", tmp_path / "runs", stale_after=1.0)
    finish = RunStore.finish

    def finish_on_a_full_disk(self, run_id, *args, **kwargs):
        if run_id == first.id:
            raise OSError(28, "No space left on device")
        return finish(self, run_id, *args, **kwargs)

    monkeypatch.setattr(RunStore, "finish", finish_on_a_full_disk)
    with executor(store, lambda config, run_dir, progress, should_stop: {"k": 2}) as manager:
        first, second = new_run(store), new_run(store)
        manager.submit(first.id)
        manager.submit(second.id)
        assert manager.wait(second.id, timeout=20) == "done"
    assert store.get(first.id).status == "interrupted" and store.get(first.id).resumable
    assert "could not record the outcome" in (first.path / LOG).read_text()


def test_a_disk_error_of_the_run_itself_ends_it_failed(store):
    def runner(config, run_dir, progress, should_stop):
        raise OSError(28, "No space left on device")

    with executor(store, runner) as manager:
        record = new_run(store)
        manager.submit(record.id)
        assert manager.wait(record.id, timeout=20) == "failed"
    assert store.get(record.id).message.startswith("The run could not read or write its files (No space left")


def test_the_next_run_comes_from_the_owner_with_fewest_busy_runs(store):
    started, release = [], {}

    def runner(config, run_dir, progress, should_stop):
        started.append(run_dir.name)
        release.setdefault(run_dir.name, threading.Event()).wait(20)
        return {}

    with executor(store, runner, workers=2) as manager:
        first = [new_run(store, owner="a") for _ in range(4)]
        for record in first:
            manager.submit(record.id)
        wait_until(lambda: len(started) == 2)
        late = new_run(store, owner="b")
        manager.submit(late.id)
        assert manager.queue_position(late.id).place == 1  # before a's older runs: a holds both slots, b none
        release.setdefault(first[0].id, threading.Event()).set()
        wait_until(lambda: len(started) == 3)
        release.setdefault(late.id, threading.Event()).set()
        wait_until(lambda: len(started) == 4)
        for record in [*first, late]:
            release.setdefault(record.id, threading.Event()).set()
        for record in [*first, late]:
            assert manager.wait(record.id, timeout=20) == "done"
    assert set(started[:2]) == {first[0].id, first[1].id}  # started together: either may report first
    assert started[2:] == [late.id, first[2].id, first[3].id]


def test_a_finished_run_loses_its_checkpoints_but_keeps_its_models(store):
    def runner(config, run_dir, progress, should_stop):
        for folder in ("clusterllm/iteration-0", "erasmo-checkpoint", "cactus-checkpoints/train", "finetuned-model"):
            (run_dir / folder).mkdir(parents=True)
            (run_dir / folder / "weights.bin").write_bytes(b"0" * 1000)
        if (run_dir / "fail").exists():
            raise SettingsError("no")
        return {}

    with executor(store, runner) as manager:
        done, failed = new_run(store), new_run(store)
        (failed.path / "fail").touch()
        manager.submit(done.id)
        manager.submit(failed.id)
        assert manager.wait(done.id) == "done" and manager.wait(failed.id) == "failed"
    assert sorted(path.name for path in done.path.iterdir() if path.is_dir()) == ["finetuned-model"]
    assert (failed.path / "clusterllm" / "iteration-0" / "weights.bin").exists()  # resume needs them


def test_a_run_is_refused_while_the_home_folder_is_over_its_disk_budget(store, monkeypatch):
    monkeypatch.setenv("CLUSTERLENS_DISK_BUDGET_MB", "0.001")
    with executor(store, lambda *args: {}) as manager:
        record = new_run(store)
        with pytest.raises(ClusterLensError, match="more than its budget of 0 MB"):
            manager.submit(record.id)
    assert store.get(record.id).status == "failed" and "CLUSTERLENS_DISK_BUDGET_MB" in store.get(record.id).message
