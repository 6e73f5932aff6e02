"""Runs on a Ray cluster this module starts itself (a head and one worker node on loopback, torn down after): the same
labels as the in-process run for the same seed, and cancel through the catalogue. Skipped without ray installed."""
import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ray")

from core.data.samples import load_sample  # noqa: E402
from core.metrics import ari  # noqa: E402
from core.runs import RunDirectory, RunStore, create_run, execute_run, prepare_run  # noqa: E402
from core.runs.ray_engine import RayExecutor, RaySettings, execute_run_on_ray  # noqa: E402
from core.settings import ClusteringSettings, RunConfig  # noqa: E402
from tests.conftest import BagOfWordsEmbedder  # noqa: E402
from tests.e2e.conftest import free_port  # noqa: E402
from tests.unit.ray_helpers import LocalRayCluster  # noqa: E402

WAIT_SECONDS = 300


@pytest.fixture(scope="module")
def cluster():
    import ray

    local = LocalRayCluster(free_port())
    try:
        yield local.start()
    finally:
        ray.shutdown()
        local.stop()


def support_texts() -> pd.DataFrame:
    data = load_sample("support_requests")
    frame = pd.DataFrame({"text": data.texts(), "topic": data.labels()})
    return pd.concat([frame, frame.assign(text="hi, " + frame["text"])], ignore_index=True)


def test_a_run_through_ray_gives_the_in_process_labels(cluster, tmp_path):
    frame = support_texts()
    config = RunConfig(method="baseline", dataset="support", kind="text", roles={"text": "text", "topic": "label"},
                       clustering=ClusteringSettings(n_clusters=10, fit_sample=250, seed=7))
    local, remote = tmp_path / "local", tmp_path / "ray"
    for folder in (local, remote):
        prepare_run(RunDirectory(folder), config, frame)
    execute_run(config, local, embedders=lambda spec: BagOfWordsEmbedder())
    settings = RaySettings(address=cluster, embed_actors=2, embed_batch=64, assign_batch=100,
                           embedder_factory="tests.unit.ray_helpers:bag_of_words")
    execute_run_on_ray(config, remote, settings=settings)
    expected, got = (RunDirectory(folder).load_array("labels.npy") for folder in (local, remote))
    assert len(got) == len(frame) and ari(expected, got) >= 0.99
    assert RunDirectory(remote).load_array("projection.npy").shape == (len(frame), 2)
    assert RunDirectory(remote).read_json("metrics.json")["n"] == len(frame)


def test_a_ray_run_reports_progress_and_stops_when_cancelled(cluster, tmp_path):
    store = RunStore(tmp_path / "catalogue.sqlite", tmp_path / "runs")
    config = RunConfig(method="baseline", dataset="t", kind="text", roles={"text": "text"})
    record = create_run(store, config, pd.DataFrame({"text": ["a b", "c d", "e f"]}), owner="tester")
    with RayExecutor(store, runner="tests.unit.fake_runs:reports_then_waits", address=cluster) as executor:
        executor.submit(record.id)
        deadline = time.monotonic() + WAIT_SECONDS
        while store.get(record.id).progress < 0.5 and time.monotonic() < deadline:
            time.sleep(0.2)
        running = store.get(record.id)
        assert (running.status, running.stage) == ("running", "embed") and running.worker.startswith("ray:")
        assert executor.cancel(record.id)
        assert executor.wait(record.id, timeout=WAIT_SECONDS) == "cancelled"
    assert np.isclose(store.get(record.id).progress, 0.5)
