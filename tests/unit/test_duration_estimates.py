"""Estimates that learn the machine: every method guesses before it starts; each finished run corrects the next guess
by how its own duration compared with its guess; runs that are not whole (resumed) or absurd teach nothing."""
from contextlib import closing

import pandas as pd
import pytest

from core.data.samples import load_sample
from core.methods import METHODS
from core.runs import RunStore, create_run, run_job
from core.runs.estimates import EstimateLog
from core.settings import ClusteringSettings, RunConfig
from core.sqlite import connect


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "catalogue.sqlite", tmp_path / "runs")


@pytest.mark.parametrize(("method", "sample"), [("baseline", "support_requests"), ("clusterllm", "support_requests"),
                                                ("erasmo", "penguins"), ("cactus", "support_requests")])
def test_every_method_guesses_a_duration_that_grows_with_the_rows(method, sample):
    data = load_sample(sample)
    settings = METHODS[method].settings_type()
    small = METHODS[method].estimate_seconds(data.sampled(len(data.frame) // 4), settings, "cpu")
    large = METHODS[method].estimate_seconds(data, settings, "cpu")
    assert 0 < small < large


def test_the_first_finished_run_calibrates_and_later_ones_refine(tmp_path):
    log = EstimateLog(tmp_path / "catalogue.sqlite")
    first = log.estimate("baseline", "cpu", 60.0)
    assert first.seconds == 60.0 and first.runs == 0 and "first guess" in first.describe()
    log.guessed("a", "baseline", "cpu", 300, 60.0)
    log.finished("a", 120.0)
    assert log.estimate("baseline", "cpu", 30.0).seconds == pytest.approx(60.0)  # this machine is 2x slower
    log.guessed("b", "baseline", "cpu", 300, 60.0)
    log.finished("b", 240.0)
    log.guessed("c", "baseline", "cpu", 300, 60.0)
    log.finished("c", 180.0)
    refined = log.estimate("baseline", "cpu", 30.0)
    assert refined.correction == pytest.approx(3.0) and refined.runs == 3 and "3 finished run(s)" in refined.describe()
    assert log.estimate("baseline", "cuda", 30.0).runs == 0  # another device learns on its own
    assert log.estimate("erasmo", "cpu", 30.0).runs == 0  # and so does another method
    log.guessed("d", "baseline", "cpu", 300, 60.0)
    log.finished("d", 60_000.0)  # a machine that slept through the run: ignored
    assert log.estimate("baseline", "cpu", 30.0).runs == 3


def test_a_run_keeps_its_guess_and_its_duration(store):
    data = load_sample("support_requests")
    config = RunConfig(method="baseline", dataset=data.name, kind=data.kind, roles=data.roles,
                       clustering=ClusteringSettings(n_clusters=3))
    record = create_run(store, config, data.frame, owner="me")
    outcome = run_job(store, record.id, worker="w", runner=lambda *args: {"k": 3})
    assert outcome.status == "done"
    with closing(connect(store.db_path)) as db:
        guess, actual = db.execute("SELECT guess, actual FROM run_estimates WHERE run = ?", (record.id,)).fetchone()
    assert guess == pytest.approx(METHODS["baseline"].estimate_seconds(data, METHODS["baseline"].settings_type(),
                                                                      "cpu"))
    assert 0 <= actual < 5  # the stand-in runner's time, far below any real run's guess


def test_a_retrain_from_edits_is_not_counted_as_its_method(store):
    frame = pd.DataFrame({"text": ["a b", "c d", "e f"]})
    config = RunConfig(method="baseline", dataset="t", kind="text", roles={"text": "text"}, task="retrain")
    record = create_run(store, config, frame, owner="me")
    run_job(store, record.id, worker="w", runner=lambda *args: {"k": 2})
    with closing(connect(store.db_path)) as db:
        assert db.execute("SELECT COUNT(*) FROM run_estimates").fetchone()[0] == 0


@pytest.mark.parametrize(("progress", "elapsed", "expected", "said"), [
    (0.0, 0.0, None, "estimating the time left"),
    (0.01, 10.0, 120.0, "about 1 min 50 s left"),  # too early for its own pace: the estimate
    (0.5, 60.0, 120.0, "about 1 min 00 s left"),  # its own pace
    (0.02, 300.0, 120.0, "taking longer than estimated"),  # past the estimate: never "0 s left"
    (0.999, 600.0, 120.0, "almost done"),
])
def test_the_time_left_never_reaches_zero_while_the_run_works(progress, elapsed, expected, said):
    from core.runs.estimates import time_left

    assert time_left(progress, elapsed, expected) == said


def test_a_runs_expected_duration_is_its_guess_corrected_by_the_machine(tmp_path):
    log = EstimateLog(tmp_path / "catalogue.sqlite")
    log.guessed("old", "baseline", "cpu", 300, 10.0)
    log.finished("old", 20.0)
    log.guessed("new", "baseline", "cpu", 300, 30.0)
    assert log.expected_seconds("new") == pytest.approx(60.0) and log.expected_seconds("unknown") is None


def test_the_first_guess_follows_the_backend_that_embeds_and_training_runs_on_torch(monkeypatch):
    from core.methods.costs import embed_seconds, train_seconds

    monkeypatch.delenv("CLUSTERLENS_EMBED_BACKEND", raising=False)
    assert embed_seconds(1000, "minilm@torch", "cpu") == pytest.approx(6.6 * embed_seconds(1000, "minilm", "cpu"))
    assert embed_seconds(1000, "mpnet@torch", "cpu") > embed_seconds(1000, "minilm@torch", "cpu")
    assert train_seconds(100, "minilm", "cpu") == train_seconds(100, "minilm@torch", "cpu")
    monkeypatch.setenv("CLUSTERLENS_EMBED_BACKEND", "torch")
    assert embed_seconds(1000, "minilm", "cpu") == embed_seconds(1000, "minilm@torch", "cpu")
