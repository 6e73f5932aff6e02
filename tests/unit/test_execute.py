"""A whole run as a pure function: texts and tables in, labels, scores, projection and tree out."""
import numpy as np
import pandas as pd
import pytest

from core.runs import RunDirectory, execute_run, prepare_run
from core.runs.artifacts import load_artifacts
from core.settings import ClusteringSettings, RunConfig


def test_text_run_recovers_topics_and_writes_artifacts(tmp_path, fake_embedder, topic_texts):
    texts, labels = topic_texts
    frame = pd.DataFrame({"text": texts, "topic": labels})
    config = RunConfig(method="baseline", dataset="topics", kind="text", roles={"text": "text", "topic": "label"},
                       clustering=ClusteringSettings(n_clusters=3, reduce="none"))
    prepare_run(RunDirectory(tmp_path), config, frame)
    stages = []
    summary = execute_run(config, tmp_path, lambda stage, fraction, message: stages.append((stage, fraction)),
                          embedders=lambda name: fake_embedder)
    assert summary["k"] == 3
    assert summary["acc"] > 0.9
    fractions = [fraction for _, fraction in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    run = load_artifacts(tmp_path)
    assert run.projection.shape == (len(texts), 2)
    assert run.embeddings.shape == (len(texts), fake_embedder.dim)
    recut, scores = run.recut(2)
    assert len(np.unique(recut)) == 2 and 0 <= scores["nmi"] <= 1


def test_table_run_chooses_k_by_silhouette(tmp_path):
    rng = np.random.default_rng(0)
    centres = {"small": (1.0, 10.0), "large": (9.0, 80.0)}
    rows = [{"size": rng.normal(c[0], 0.3), "weight": rng.normal(c[1], 2), "colour": name, "kind": name}
            for name, c in centres.items() for _ in range(20)]
    frame = pd.DataFrame(rows)
    config = RunConfig(method="baseline", dataset="blobs", kind="table",
                       roles={"size": "numeric", "weight": "numeric", "colour": "categorical", "kind": "label"},
                       clustering=ClusteringSettings(k_min=2, k_max=6))
    prepare_run(RunDirectory(tmp_path), config, frame)
    summary = execute_run(config, tmp_path, embedders=lambda name: pytest.fail("tables need no embedder"))
    assert summary["k"] == 2 and summary["ari"] == pytest.approx(1.0)
    run = load_artifacts(tmp_path)
    assert set(run.scores["k_curve"]) >= {"2", "3"} or set(run.scores["k_curve"]) >= {2, 3}
    profiles = run.profiles(run.labels)
    assert len(profiles) == 2


def test_cancelled_run_stops_early(tmp_path, fake_embedder, topic_texts):
    from core.errors import RunCancelled

    texts, _ = topic_texts
    config = RunConfig(method="baseline", dataset="t", kind="text", roles={"text": "text"})
    prepare_run(RunDirectory(tmp_path), config, pd.DataFrame({"text": texts}))
    with pytest.raises(RunCancelled):
        execute_run(config, tmp_path, should_stop=lambda: True, embedders=lambda name: fake_embedder)
    assert not (tmp_path / "metrics.json").exists()


def test_settings_are_checked_before_a_run_starts(tmp_path):
    from core.errors import SettingsError

    frame = pd.DataFrame({"text": ["a b", "c d", "e f"]})
    bad_type = RunConfig(method="clusterllm", dataset="t", kind="text", roles={"text": "text"},
                         method_settings={"epochs": "three"})
    with pytest.raises(SettingsError, match="'epochs' must be int"):
        prepare_run(RunDirectory(tmp_path), bad_type, frame)
    wrong_kind = RunConfig(method="erasmo", dataset="t", kind="text", roles={"text": "text"})
    with pytest.raises(SettingsError, match="works on table data"):
        prepare_run(RunDirectory(tmp_path), wrong_kind, frame)
