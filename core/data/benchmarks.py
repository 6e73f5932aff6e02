"""Labelled public data sets for measuring clustering quality, read from the shared data folder (never copied in).

The folder is $CLUSTERLENS_SHARED_DATA when set, else `../shared/data` beside the repository.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.data.dataset import Dataset
from core.data.intake import load_dataset
from core.data.samples import load_sample
from core.errors import IntakeError

DATA_ENV = "CLUSTERLENS_SHARED_DATA"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Benchmark:
    """A labelled data set: a CSV folder in the shared data (with one file per split), or a bundled sample."""

    name: str
    title: str
    label: str
    folder: str | None = None  # None: a bundled sample, which has a single split called "test"
    splits: tuple[str, ...] = ("test",)
    ignore: tuple[str, ...] = field(default=())


BENCHMARKS: dict[str, Benchmark] = {
    benchmark.name: benchmark
    for benchmark in (
        Benchmark("bank77", "Banking77 intents (77)", "category", "bank77", ("test", "train")),
        Benchmark("clinc150-intent", "CLINC150 intents (150)", "intent", "clinc150", ("test", "val", "train"),
                  ignore=("domain",)),
        Benchmark("clinc150-domain", "CLINC150 domains (10)", "domain", "clinc150", ("test", "val", "train"),
                  ignore=("intent",)),
        Benchmark("penguins", "Palmer penguins species (3)", "species"),
        Benchmark("wine", "Wine cultivars (3)", "cultivar"),
        Benchmark("cars", "Cars by origin (3)", "Origin"),
    )
}


def benchmark_names() -> list[str]:
    """Names accepted by `load_benchmark`, in registry order."""
    return list(BENCHMARKS)


def shared_data_dir() -> Path:
    """The folder holding the benchmark CSVs."""
    return Path(os.environ.get(DATA_ENV) or REPO_ROOT.parent / "shared" / "data")


def load_benchmark(name: str, split: str = "test") -> Dataset:
    """One split of a benchmark as a text or table Dataset with its label column set."""
    benchmark = BENCHMARKS.get(name)
    if benchmark is None:
        raise IntakeError(f"No benchmark called {name!r}. Benchmarks are: {', '.join(BENCHMARKS)}.")
    if split not in benchmark.splits:
        raise IntakeError(
            f"{name} has no {split!r} split. Use one of: {', '.join(benchmark.splits)}."
        )
    if benchmark.folder is None:
        return load_sample(name)
    folder = shared_data_dir() / benchmark.folder
    if not folder.is_dir():
        raise IntakeError(
            f"Benchmark data folder {str(folder)!r} does not exist. Put the data there or set {DATA_ENV} "
            "to the folder that holds bank77/ and clinc150/."
        )
    path = folder / f"{split}.csv"
    if not path.is_file():
        raise IntakeError(f"Benchmark file {str(path)!r} is missing. Restore it in the shared data folder.")
    return load_dataset(
        path, kind="text", text_column="text", label_column=benchmark.label,
        roles={column: "ignore" for column in benchmark.ignore}, name=f"{name}-{split}",
    )
