"""A ClusterLLM run hit at each stage (#11 item 3): kill -9, cancel, a full disk, damaged checkpoints.

The run is real (oracle judge, a tiny random-weight BERT, 60 labelled texts, two rounds of 24 triplets); the faults
come from tests/faults/killing_runner.py, which wraps the real run function, so product code has no test hooks. Each
test asserts that the run ends in a state a person can act on (interrupted, cancelled or failed, and resumable), that
it resumes to "done", that every judge answer stored before the fault is still there unchanged and was not paid for
again, and that a person's review made in between survives.
"""
from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from core.llm import JudgmentStore
from core.methods.clusterllm.method import CHECKPOINT_FOLDER
from core.runs import RunStore, ThreadExecutor, create_run, run_job
from core.runs.jobs import CANCEL_POLL_SECONDS
from core.settings import ClusteringSettings, RunConfig
from core.storage import EMBEDDINGS, METRICS
from tests.faults.killing_runner import KILL_AT, POINTS, fault_runner
from tests.unit.test_clusterllm import tiny_model_dir as tiny_model_dir  # noqa: F401  (a fixture)

pytest.importorskip("torch")
REPO = Path(__file__).resolve().parents[2]
KILLING_RUNNER = "tests.faults.killing_runner:kill_at_point"
CANCEL_POINTS = tuple(point for point in POINTS if point != "write")  # no stop is checked once writing has begun
RUN_SECONDS = 600.0
"""Bound on a worker reaching its kill point, and on a resume; generous for a 2-core machine shared with other jobs."""


def topic_frame() -> pd.DataFrame:
    """60 short texts in three labelled topics (the oracle judge answers from the labels)."""
    topics = {
        "card": ["my card has not arrived yet", "where is my new card", "card delivery is late again",
                 "still waiting for the card", "track my card delivery please"],
        "refund": ["i want a refund for my order", "refund has not reached my account", "how long does a refund take",
                   "please refund the duplicate payment", "refund request for a cancelled order"],
        "password": ["i forgot my password", "reset my password please", "password reset link expired",
                     "cannot log in with my password", "change the password on my account"],
    }
    rows = [(f"{item} {'!' * repeat}".strip(), topic)
            for repeat in range(4) for topic, items in topics.items() for item in items]
    return pd.DataFrame(rows, columns=["text", "topic"])


def clusterllm_config(model_dir: Path) -> RunConfig:
    """Tiny settings: 24 triplets (two chunks of questions) per round, 2 rounds of 1 epoch, 20 pair questions."""
    return RunConfig(method="clusterllm", dataset="topics", kind="text", roles={"text": "text", "topic": "label"},
                     method_settings={"embedder": str(model_dir), "judge": "oracle", "n_triplets": 24,
                                      "iterations": 2, "epochs": 1, "batch_size": 8, "sampling_clusters": 4,
                                      "k_max": 6, "pairs_per_step": 4},
                     clustering=ClusteringSettings(n_clusters=3, reduce="none"), device="cpu")


def catalogue(home: Path) -> Path:
    return home / "clusterlens.sqlite"


def stores(home: Path) -> tuple[RunStore, RunStore]:
    """(the store runs go through, one that calls a run interrupted 1 s after its last heartbeat)."""
    return (RunStore(catalogue(home), home / "runs"),
            RunStore(catalogue(home), home / "runs", stale_after=1.0))


def judgments(home: Path, run_id: str) -> dict[tuple[str, str], dict]:
    """The run's rows of the answer store, by (kind, question hash)."""
    JudgmentStore(catalogue(home))  # the table exists even when the run stored nothing
    with closing(sqlite3.connect(catalogue(home))) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM judgments WHERE run = ?", (run_id,)).fetchall()
    return {(row["kind"], row["question_hash"]): dict(row) for row in rows}


def review_one(home: Path, run_id: str) -> tuple[int, object] | None:
    """A person flips the judge's first decided answer (as on the Review page); (judgment id, their answer)."""
    store = JudgmentStore(catalogue(home))
    decided = [j for j in store.list(run_id) if j.answer is not None]
    if not decided:
        return None
    first = decided[0]
    flipped = (3 - first.answer) if first.kind == "triplet" else (not first.answer)
    store.set_person_answer(first.id, flipped)
    return first.id, flipped


def resume(home: Path, run_id: str) -> str:
    """Queue the run again and run it with the default run function, as the Run page's Resume does."""
    store, watcher = stores(home)
    assert watcher.get(run_id).resumable
    watcher.enqueue(run_id)  # by the watcher's bound: a killed worker's heartbeat is seconds old, not a minute
    with ThreadExecutor(store, workers=1, pump_seconds=None) as executor:
        executor.dispatch()
        return executor.wait(run_id, timeout=RUN_SECONDS)


def assert_resumed_keeping_answers(home: Path, run_id: str, before: dict, review: tuple[int, object] | None) -> None:
    """The run resumed to "done" with its artifacts; every answer stored before is there unchanged and was not asked
    again (one paid attempt per question); the person's review is there."""
    store, _ = stores(home)
    record = store.get(run_id)
    assert (record.status, record.progress) == ("done", 1.0), record.message
    assert (record.path / METRICS).exists() and not (record.path / CHECKPOINT_FOLDER).exists()
    after = judgments(home, run_id)
    for key, row in before.items():
        kept = after[key]
        assert (kept["id"], kept["answer"], kept["raw"], kept["reused"]) == (row["id"], row["answer"], row["raw"], 0)
        assert kept["attempts"] == 1, "asked (and paid for) again after the fault"
    assert all(row["attempts"] == 1 for row in after.values())
    assert {kind for kind, _ in after} == {"triplet", "pair"}
    assert JudgmentStore(catalogue(home)).spent(run_id)["queries"] == len(after)
    if review is not None:
        judgment_id, answer = review
        reviewed = JudgmentStore(catalogue(home)).get(judgment_id)
        assert reviewed.reviewed and reviewed.person_answer == answer and reviewed.answer != answer


def new_run(home: Path, model_dir: Path) -> str:
    store, _ = stores(home)
    return create_run(store, clusterllm_config(model_dir), topic_frame(), owner="analyst").id


# ---------------------------------------------------------------- kill -9 at each stage, then resume


@pytest.fixture(scope="module")
def killed_runs(tiny_model_dir, tmp_path_factory):  # noqa: F811
    """One run per point, each in its own home and worker process, all killed at once (they share the 2 cores):
    {point: (home, run id, the worker's exit code, the answers stored at the kill)}."""
    started = {}
    for point in POINTS:
        home = tmp_path_factory.mktemp(f"killed-{point}")
        store, _ = stores(home)
        run_id = new_run(home, tiny_model_dir)
        store.enqueue(run_id)
        worker = f"faults:{point}"
        assert store.reserve_next(worker, workers=1) == run_id
        command = [sys.executable, "-m", "core.runs.worker", run_id, "--worker", worker, "--catalogue",
                   str(catalogue(home)), "--runs-root", str(home / "runs"), "--runner", KILLING_RUNNER,
                   "--workers", "1"]
        env = {**os.environ, "CLUSTERLENS_HOME": str(home), KILL_AT: point}
        with (home / "worker.log").open("wb") as log:
            started[point] = (home, run_id, subprocess.Popen(command, cwd=REPO, env=env, stdout=log,
                                                              stderr=subprocess.STDOUT))
    killed = {}
    for point, (home, run_id, process) in started.items():
        code = process.wait(timeout=RUN_SECONDS)
        killed[point] = (home, run_id, code, judgments(home, run_id))
    return killed


@pytest.mark.parametrize("point", POINTS)
def test_a_run_killed_at_each_stage_reads_interrupted_and_resumes_keeping_every_answer(killed_runs, point,
                                                                                      monkeypatch):
    home, run_id, code, before = killed_runs[point]
    log = (home / "worker.log").read_text(errors="replace")
    assert code == -9, f"the worker was not killed at {point} (exit {code}):\n{log[-2000:]}"
    _, watcher = stores(home)
    time.sleep(1.1)  # the watcher's stale_after: a second without a heartbeat
    assert watcher.get(run_id).status == "interrupted"
    assert bool(before) == (point != "embed"), f"answers stored before the kill at {point}: {len(before)}"
    if point == "ask":  # killed between two chunks of questions: some answered, some left
        assert 0 < len(before) < 24
    if point == "pairs":
        assert {kind for kind, _ in before} == {"triplet", "pair"}
    review = review_one(home, run_id)
    monkeypatch.setenv("CLUSTERLENS_HOME", str(home))
    assert resume(home, run_id) == "done"
    assert_resumed_keeping_answers(home, run_id, before, review)


# ---------------------------------------------------------------- cancel at each stage, then resume


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A ClusterLens home of the test's own (the run's answer store and embedding cache live there)."""
    monkeypatch.setenv("CLUSTERLENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize("point", CANCEL_POINTS)
def test_a_run_cancelled_at_each_stage_is_resumable_and_resumes_keeping_every_answer(home, tiny_model_dir, point):  # noqa: F811
    store, _ = stores(home)
    run_id = new_run(home, tiny_model_dir)

    def cancel() -> None:
        assert store.request_cancel(run_id)
        time.sleep(CANCEL_POLL_SECONDS + 0.1)  # the worker reads the flag at most this often

    outcome = run_job(store, run_id, worker="faults:cancel", runner=fault_runner(point, cancel))
    record = store.get(run_id)
    assert (outcome.status, record.status, record.resumable) == ("cancelled", "cancelled", True), outcome.message
    before = judgments(home, run_id)
    assert bool(before) == (point != "embed")
    review = review_one(home, run_id)
    assert resume(home, run_id) == "done"
    assert_resumed_keeping_answers(home, run_id, before, review)


# ---------------------------------------------------------------- a full disk, damaged checkpoints


def test_a_full_disk_while_writing_fails_the_run_with_a_message_about_disk_space_and_it_resumes(home, tiny_model_dir):  # noqa: F811
    store, _ = stores(home)
    run_id = new_run(home, tiny_model_dir)

    def disk_full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    outcome = run_job(store, run_id, worker="faults:disk", runner=fault_runner("write", disk_full))
    record = store.get(run_id)
    assert (outcome.status, record.status, record.resumable) == ("failed", "failed", True)
    assert "disk space" in record.message and "Traceback" not in record.message and "\n" not in record.message
    assert not (record.path / EMBEDDINGS).exists()
    before = judgments(home, run_id)
    assert {kind for kind, _ in before} == {"triplet", "pair"}
    review = review_one(home, run_id)
    assert resume(home, run_id) == "done"
    assert_resumed_keeping_answers(home, run_id, before, review)


def test_damaged_checkpoints_are_started_over_keeping_every_answer(home, tiny_model_dir):  # noqa: F811
    """Garbage in every checkpoint file (the saved questions, the training state and weights; it used to end the run
    with "Internal error (BadZipFile)" on every resume): the resume does those parts again, and the judge's answers
    come from the store, not paid twice."""
    store, _ = stores(home)
    run_id = new_run(home, tiny_model_dir)

    def cancel() -> None:
        store.request_cancel(run_id)
        time.sleep(CANCEL_POLL_SECONDS + 0.1)

    assert run_job(store, run_id, worker="faults:damage", runner=fault_runner("pairs", cancel)).status == "cancelled"
    damaged = [path for path in (store.get(run_id).path / CHECKPOINT_FOLDER).rglob("*") if path.is_file()]
    names = {path.name for path in damaged}
    assert {"questions.npz", "state.pt", "trainable.safetensors"} <= names, names
    for path in damaged:
        path.write_bytes(b"PK\x03\x04 not what was saved \x00\xff" * 8)
    before = judgments(home, run_id)
    assert resume(home, run_id) == "done", store.get(run_id).message
    assert_resumed_keeping_answers(home, run_id, before, None)
