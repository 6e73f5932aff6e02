"""A fourth method, written and registered here in a few lines, runs through the CLI, the benchmark and the Run page:
adding a method touches nothing outside its own code."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import pytest

from core.methods import Method, Representation, register
from core.methods.registry import METHODS
from core.settings import option
from tests.app.waiting import wait_for_runs


@dataclass
class HashedWordsSettings:
    dims: int = option(32, "Dimensions", "Length of the hashed word vectors.", minimum=2, maximum=4096)
    weighting: Literal["counts", "binary"] = option("counts", "Word weighting",
                                                    choice_labels={"counts": "word counts", "binary": "present or not"})


class HashedWords(Method):
    name: ClassVar[str] = "hashed"
    label: ClassVar[str] = "Hashed words"
    title: ClassVar[str] = "Hashed words (a toy fourth method)"
    kinds: ClassVar[tuple[str, ...]] = ("text",)
    settings_type: ClassVar[type] = HashedWordsSettings

    def represent(self, data, settings: HashedWordsSettings, context) -> Representation:
        vectors = np.zeros((len(data.frame), settings.dims), dtype=np.float32)
        for row, text in enumerate(data.texts()):
            for word in text.lower().split():
                column = int(hashlib.md5(word.encode()).hexdigest(), 16) % settings.dims
                vectors[row, column] = 1.0 if settings.weighting == "binary" else vectors[row, column] + 1.0
        return Representation(vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9))


@pytest.fixture
def hashed_method():
    register(HashedWords())
    yield
    METHODS.pop("hashed")


@pytest.fixture
def in_process_runs(monkeypatch):
    """Runs in threads of this process: a method registered only here (not in core.methods) exists nowhere else, so
    the app's default subprocess workers would not know it."""
    import pages.common
    from core.runs.executors import ThreadExecutor

    runner = ThreadExecutor(pages.common.run_store())
    monkeypatch.setattr(pages.common, "executor", lambda: runner)
    yield
    runner.shutdown()


@pytest.fixture
def texts_csv(tmp_path, topic_texts):
    texts, labels = topic_texts
    path = tmp_path / "texts.csv"
    pd.DataFrame({"text": texts, "topic": labels}).to_csv(path, index=False)
    return path


def test_the_cli_clusters_with_the_new_method_and_checks_its_settings(hashed_method, texts_csv, tmp_path, capsys):
    from core.__main__ import main

    out = tmp_path / "run"
    code = main(["cluster", str(texts_csv), "--method", "hashed", "--set", "dims=64", "--set", "weighting=binary",
                 "--k", "3", "--reduce", "none", "--out", str(out)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["k"] == 3 and 0 <= summary["acc"] <= 1
    assert json.loads((out / "config.json").read_text())["method_settings"] == {"dims": 64, "weighting": "binary"}
    assert main(["cluster", str(texts_csv), "--method", "hashed", "--set", "weighting=tfidf",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "weighting must be one of 'counts', 'binary'" in capsys.readouterr().err


def test_the_benchmark_scores_the_new_method(hashed_method, texts_csv, tmp_path):
    from core.__main__ import main

    out = tmp_path / "bench.json"
    assert main(["bench", str(texts_csv), "--method", "hashed", "--text-column", "text", "--label-column", "topic",
                 "--seeds", "1,2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["method"] == "hashed" and result["k"] == 3 and result["settings"] == {"dims": 32,
                                                                                     "weighting": "counts"}
    assert result["metrics"]["acc"][0] > 60


def test_the_run_page_offers_the_new_method_with_its_form(hashed_method, in_process_runs, app, workspace):
    at = app()
    at.selectbox[0].set_value("support_requests")
    at.button(key="load_sample").click().run()
    at.switch_page("pages/run.py").run()
    at.selectbox(key="method").set_value("hashed").run()
    assert not at.exception
    assert at.number_input(key="hashed-dims").label == "Dimensions"
    at.number_input(key="hashed-dims").set_value(48)
    at.selectbox(key="hashed-weighting").set_value("binary")
    at.text_input(key="clustering-n_clusters").input("10")
    at.button(key="start").click().run()
    assert not at.exception and not at.error
    runs = wait_for_runs(workspace)
    assert [run.status for run in runs] == ["done"], runs[0].message
    assert runs[0].method == "hashed" and runs[0].summary["k"] == 10
