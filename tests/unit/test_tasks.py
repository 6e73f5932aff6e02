"""Background tasks: a method's run ends with its clusters named and stored; a retrain learns from a run's edits."""
import numpy as np
import pandas as pd

from core.curation import Curation, Move
from core.curation.names import members_key
from core.profiles import top_terms
from core.runs import RunDirectory, prepare_run
from core.runs.artifacts import TERMS
from core.settings import ClusteringSettings, RunConfig
from core.tasks import run_task


def texts_run(tmp_path, topic_texts, **config) -> tuple[RunConfig, pd.DataFrame]:
    texts, labels = topic_texts
    frame = pd.DataFrame({"text": texts, "topic": labels})
    return RunConfig(method="baseline", dataset="topics", kind="text", roles={"text": "text", "topic": "label"},
                     clustering=ClusteringSettings(n_clusters=3, reduce="none"), **config), frame


def test_a_run_ends_with_named_clusters(tmp_path, topic_texts):
    config, frame = texts_run(tmp_path, topic_texts)
    prepare_run(RunDirectory(tmp_path / "run"), config, frame)
    stages = []
    summary = run_task(config, tmp_path / "run", lambda stage, fraction, message: stages.append(stage))
    assert summary["k"] == 3 and stages[-1] == "naming"
    curation = Curation(tmp_path / "run")
    labels = curation.labels()
    keys = {c: members_key(np.flatnonzero(labels == c)) for c in range(3)}
    stored = curation.names.get(curation.run, keys, curation.namer.key)  # named by the task, before any page asks
    assert sorted(stored) == [0, 1, 2]
    assert len({c.name for c in curation.current().clusters}) == 3
    run = curation.artifacts  # the clusters' words are stored too, and read back for the run's own labels only
    assert RunDirectory(tmp_path / "run").exists(TERMS)
    assert run.terms(labels) == top_terms(run.data.texts(), labels)
    moved = (labels + 1) % 3  # the same clusters under other ids: other labels, so the words are computed
    assert run.terms(moved) == top_terms(run.data.texts(), moved) != run.terms(labels)


def test_a_retrain_task_learns_from_the_edits(tmp_path, topic_texts):
    config, frame = texts_run(tmp_path, topic_texts)
    prepare_run(RunDirectory(tmp_path / "run"), config, frame)
    run_task(config, tmp_path / "run")
    source = Curation(tmp_path / "run")
    labels = source.labels()
    source.apply(Move(tuple(range(0, 6)), to=int(labels[10])))
    retrain = RunConfig(**{**config.__dict__, "task": "retrain", "source": str(tmp_path / "run")})
    prepare_run(RunDirectory(tmp_path / "retrained"), retrain, frame)
    summary = run_task(retrain, tmp_path / "retrained")
    assert summary["k"] >= 2
    assert (tmp_path / "retrained" / "finetuned-model").is_dir()
    assert len(Curation(tmp_path / "retrained").current().clusters) == summary["k"]
