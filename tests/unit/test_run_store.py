"""The run catalogue: rows in SQLite, status mirrored atomically to the run folder, runs with a stale heartbeat read
interrupted, old catalogues migrated in place, and the fair queue."""
import json
import os
import sqlite3
import time
from collections import Counter
from contextlib import closing

import pytest

from core.errors import ClusterLensError
from core.runs import QueuePosition, RunStore
from core.runs.queue import estimate_wait, fair_order
from core.runs.store import STALE_AFTER_SECONDS
from core.storage import STATUS, RunDirectory, dumps_json


FIRST_SCHEMA = """
CREATE TABLE runs (id TEXT PRIMARY KEY, owner TEXT NOT NULL, method TEXT NOT NULL, dataset TEXT NOT NULL,
    kind TEXT NOT NULL, parent TEXT, created REAL NOT NULL, updated REAL NOT NULL, status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '', progress REAL NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '', pid INTEGER,
    summary TEXT NOT NULL DEFAULT '{}');
"""
"""The catalogue as the first release made it."""


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


def running(store, record, *, heartbeat_age: float, pid: int | None = None):
    """Make a run look claimed by a worker whose last heartbeat is `heartbeat_age` seconds old."""
    store.enqueue(record.id)
    assert store.reserve_next("worker-1", workers=1) == record.id
    assert store.claim(record.id, "worker-1") is not None
    with closing(sqlite3.connect(store.db_path)) as db, db:
        db.execute("UPDATE runs SET heartbeat = ?, pid = ? WHERE id = ?",
                   (time.time() - heartbeat_age, pid or os.getpid(), record.id))


def test_run_of_dead_process_reads_interrupted(store):
    record = store.create(owner="o", method="baseline", dataset="d", kind="text")
    running(store, record, heartbeat_age=STALE_AFTER_SECONDS + 1)
    assert store.get(record.id).status == "interrupted"
    assert store.get(record.id).resumable


def test_run_of_live_process_stays_running(store):
    record = store.create(owner="o", method="baseline", dataset="d", kind="text")
    running(store, record, heartbeat_age=1.0)
    assert store.get(record.id).status == "running"


def test_a_restarted_server_with_the_same_pid_finds_its_old_runs_interrupted(tmp_path, store):
    """In a container the server is pid 1 before and after a restart: a live pid says nothing about a run."""
    record = store.create(owner="o", method="baseline", dataset="d", kind="text")
    running(store, record, heartbeat_age=STALE_AFTER_SECONDS + 1, pid=os.getpid())
    restarted = RunStore(tmp_path / "catalogue.sqlite", tmp_path / "runs")
    assert restarted.get(record.id).status == "interrupted" and restarted.get(record.id).pid == os.getpid()
    restarted.enqueue(record.id)  # resumable
    assert restarted.get(record.id).status == "queued"


def test_an_active_run_cannot_be_queued_twice(store):
    record = store.create(owner="o", method="baseline", dataset="d", kind="text")
    store.enqueue(record.id)
    with pytest.raises(ClusterLensError, match="already queued or running"):
        store.enqueue(record.id)


def test_an_old_catalogue_gains_the_new_columns_in_place(tmp_path):
    with closing(sqlite3.connect(tmp_path / "catalogue.sqlite")) as db, db:
        db.executescript(FIRST_SCHEMA)
        db.execute("INSERT INTO runs (id, owner, method, dataset, kind, created, updated, status, pid) "
                   "VALUES ('old', 'o', 'baseline', 'd', 'text', 1, 1, 'running', ?)", (os.getpid(),))
    for _ in range(2):  # opening it again changes nothing
        store = RunStore(tmp_path / "catalogue.sqlite", tmp_path / "runs")
    old = store.get("old")
    assert old.path == tmp_path / "runs" / "old" and old.heartbeat is None and not old.cancel_requested
    assert old.status == "interrupted"  # it never had a heartbeat: whatever ran it is gone


def test_fair_queue_across_owners(store):
    a = [store.create(owner="a", method="baseline", dataset="d", kind="text") for _ in range(3)]
    b = store.create(owner="b", method="baseline", dataset="d", kind="text")
    for record in [*a, b]:
        store.enqueue(record.id)
    assert [store.queue_position(record.id, 2).place for record in [*a, b]] == [1, 3, 4, 2]
    assert store.reserve_next("w1", workers=2) == a[0].id
    assert store.reserve_next("w2", workers=2) == b.id  # a holds a slot, b none
    assert store.reserve_next("w3", workers=2) is None  # both slots busy
    assert store.queue_position(a[1].id, 2) == QueuePosition(1, 2, 2, None)
    assert store.queue_position(b.id, 2).describe() == "Starting now."
    assert store.request_cancel(a[1].id) and store.get(a[1].id).status == "cancelled"
    assert store.claim(a[0].id, "someone else") is None and store.claim(a[0].id, "w1") is not None


def test_the_wait_is_estimated_from_the_busy_runs_and_the_typical_run_time():
    assert fair_order([], Counter()) == []
    assert estimate_wait([60.0, 300.0], [100.0], workers=2) == 160.0  # the run ahead takes the first free slot
    assert estimate_wait([60.0], [], workers=2) == 0.0  # a slot is free
    assert estimate_wait([60.0, 30.0, 300.0], [], workers=2) == 60.0  # three busy on two slots (a CLI run counts)
    assert estimate_wait([None], [], workers=1) is None
    assert QueuePosition(2, 2, 2, 150.0).describe() == "1 run ahead · 2 of 2 slots busy · starts in about 2 min 30 s"


def test_a_run_folder_outside_the_catalogue_is_kept_when_the_run_is_deleted(store, tmp_path):
    first = store.create(owner="cli", method="baseline", dataset="d", kind="text", path=tmp_path / "out")
    again = store.create(owner="cli", method="baseline", dataset="d", kind="text", path=tmp_path / "out")
    assert [record.id for record in store.list(owner="cli")] == [again.id]  # the folder belongs to the new run
    assert again.path == (tmp_path / "out").resolve() and first.id != again.id
    store.delete(again.id)
    assert (tmp_path / "out").is_dir() and store.list(owner="cli") == []


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
