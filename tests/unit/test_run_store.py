"""The run catalogue: rows in SQLite, status mirrored atomically to the run folder, dead runs read interrupted."""
import json
import subprocess
import sys

import pytest

from core.errors import ClusterLensError
from core.runs import RunStore
from core.storage import STATUS, RunDirectory, dumps_json


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "catalogue.sqlite", tmp_path / "runs")


def test_create_update_and_list_per_owner(store):
    mine = store.create(owner="tab-a", method="baseline", dataset="d", kind="text")
    store.create(owner="tab-b", method="baseline", dataset="d", kind="text")
    store.update(mine.id, status="done", progress=1.0, summary={"k": 3})
    listed = store.list(owner="tab-a")
    assert [r.id for r in listed] == [mine.id]
    assert listed[0].status == "done" and listed[0].summary == {"k": 3}
    status = json.loads((mine.path / STATUS).read_text())
    assert status["status"] == "done" and status["summary"] == {"k": 3}


def test_run_of_dead_process_reads_interrupted(store):
    record = store.create(owner="o", method="baseline", dataset="d", kind="text")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.update(record.id, status="running", pid=dead.pid)
    assert store.get(record.id).status == "interrupted"
    assert store.get(record.id).resumable


def test_run_of_live_process_stays_running(store):
    import os

    record = store.create(owner="o", method="baseline", dataset="d", kind="text")
    store.update(record.id, status="running", pid=os.getpid())
    assert store.get(record.id).status == "running"


def test_unknown_run_and_delete(store):
    record = store.create(owner="o", method="baseline", dataset="d", kind="text")
    store.delete(record.id)
    assert not record.path.exists()
    with pytest.raises(ClusterLensError, match="No run with id"):
        store.get(record.id)


def test_json_is_strict_and_writes_are_atomic(tmp_path):
    directory = RunDirectory(tmp_path)
    directory.write_json("m.json", {"nan": float("nan"), "n": 3})
    assert json.loads((tmp_path / "m.json").read_text()) == {"nan": None, "n": 3}
    assert "NaN" not in dumps_json({"x": float("inf")})
    assert not list(tmp_path.glob(".*.tmp"))
