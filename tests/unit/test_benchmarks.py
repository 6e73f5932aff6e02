"""Benchmark loaders (shared data folder) and the bundled samples."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.data.benchmarks import BENCHMARKS, DATA_ENV, benchmark_names, load_benchmark, shared_data_dir
from core.data.samples import SAMPLES, load_sample
from core.errors import IntakeError

needs_shared_data = pytest.mark.skipif(not shared_data_dir().is_dir(), reason="shared benchmark data not present")


@needs_shared_data
def test_bank77_test_split() -> None:
    dataset = load_benchmark("bank77")
    assert len(dataset.frame) == 3080
    assert dataset.kind == "text" and dataset.text_column == "text" and dataset.label_column == "category"
    assert len(set(dataset.labels())) == 77
    assert dataset.name == "bank77-test"


@needs_shared_data
def test_bank77_has_no_val_split() -> None:
    with pytest.raises(IntakeError, match="bank77 has no 'val' split. Use one of: test, train"):
        load_benchmark("bank77", split="val")


@needs_shared_data
@pytest.mark.parametrize(("name", "label", "ignored", "n_labels"),
                         [("clinc150-intent", "intent", "domain", 150), ("clinc150-domain", "domain", "intent", 10)])
def test_clinc150_intents_and_domains(name: str, label: str, ignored: str, n_labels: int) -> None:
    dataset = load_benchmark(name)
    assert len(dataset.frame) == 4500
    assert dataset.label_column == label and dataset.roles[ignored] == "ignore"
    assert len(set(dataset.labels())) == n_labels
    assert dataset.feature_columns == ["text"]


@needs_shared_data
def test_clinc150_val_split() -> None:
    assert len(load_benchmark("clinc150-intent", split="val").frame) == 3000


@pytest.mark.parametrize(("name", "rows", "label", "n_labels"),
                         [("penguins", 344, "species", 3), ("wine", 178, "cultivar", 3),
                          ("cars", 406, "Origin", 3)])
def test_sample_benchmarks(name: str, rows: int, label: str, n_labels: int) -> None:
    dataset = load_benchmark(name)
    assert len(dataset.frame) == rows and dataset.kind == "table"
    assert dataset.label_column == label and len(set(dataset.labels())) == n_labels
    assert label not in dataset.feature_columns


def test_missing_data_folder_names_path_and_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(IntakeError, match=f"nowhere.*does not exist.*{DATA_ENV}"):
        load_benchmark("bank77")


def test_missing_split_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "clinc150").mkdir()
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    with pytest.raises(IntakeError, match=r"clinc150/val\.csv' is missing"):
        load_benchmark("clinc150-domain", split="val")


def test_env_variable_points_at_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bank77").mkdir()
    (tmp_path / "bank77" / "train.csv").write_text("text,category\nwhere is my card,card_arrival\nfee?,fees\n")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert load_benchmark("bank77", split="train").labels() == ["card_arrival", "fees"]


def test_registry_and_unknown_names() -> None:
    assert benchmark_names() == ["bank77", "clinc150-intent", "clinc150-domain", "penguins", "wine", "cars"]
    assert set(benchmark_names()) == set(BENCHMARKS)
    with pytest.raises(IntakeError, match="No benchmark called 'mnist'"):
        load_benchmark("mnist")
    with pytest.raises(IntakeError, match="penguins has no 'train' split"):
        load_benchmark("penguins", split="train")


def test_penguins_sample_roles() -> None:
    dataset = load_sample("penguins")
    assert dataset.roles["year"] == "ignore" and dataset.roles["island"] == "categorical"
    assert dataset.columns_with("numeric") == ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    assert dataset.frame["bill_length_mm"].isna().sum() == 2  # rows with gaps are kept


def test_support_requests_sample() -> None:
    dataset = load_sample("support_requests")
    assert dataset.kind == "text" and dataset.label_column == "topic"
    counts = dataset.frame["topic"].value_counts()
    assert len(counts) == 10 and counts.min() >= 25 and len(dataset.frame) >= 290
    assert dataset.frame["text"].is_unique
    words = dataset.frame["text"].str.split().str.len()
    assert words.between(5, 25).all()
    assert dataset.frame["topic"].head(10).nunique() > 3  # shuffled, not grouped by topic


def test_every_sample_loads_as_announced() -> None:
    for name, sample in SAMPLES.items():
        dataset = load_sample(name)
        assert dataset.kind == sample.kind and dataset.name == name and dataset.label_column is not None
    with pytest.raises(IntakeError, match="No sample called 'iris'. Samples are: penguins"):
        load_sample("iris")


def test_bench_data_split_and_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.bench import BenchOptions, load_bench_data

    folder = tmp_path / "bank77"
    folder.mkdir()
    for split, count in (("train", 900), ("test", 300)):
        rows = "".join(f"{split} utterance {i},label_{i % 7}\n" for i in range(count))
        (folder / f"{split}.csv").write_text("text,category\n" + rows)
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    train = load_bench_data(BenchOptions("bank77", split="train", sample=500))
    again = load_bench_data(BenchOptions("bank77", split="train", sample=500))
    assert len(train.frame) == 500 and train.name == "bank77-train"
    assert train.frame.equals(again.frame)  # seeded: the same rows every time
    assert not train.frame.equals(load_bench_data(BenchOptions("bank77", split="train")).frame.head(500))
    assert not set(train.texts()) & set(load_benchmark("bank77").texts())
    with pytest.raises(IntakeError, match="no 'val' split"):
        load_bench_data(BenchOptions("bank77", split="val"))
