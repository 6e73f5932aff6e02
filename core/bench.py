"""Benchmarks on labelled data: a method's representation, clustered at the true k over several seeds.

`python -m core bench bank77 --method baseline` prints a table and writes the JSON the README's results come from.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import paths
from core.data.benchmarks import BENCHMARKS, load_benchmark
from core.data.dataset import Dataset
from core.data.intake import load_dataset
from core.device import resolve_device
from core.embed.registry import resolve_embedder
from core.errors import IntakeError, SettingsError
from core.llm.store import JudgmentStore
from core.methods import METHODS, get_method, method_settings
from core.methods.base import Representation, RunContext
from core.pipeline import score_over_seeds
from core.progress import ProgressFn, no_progress
from core.storage import RunDirectory

DEFAULT_SEEDS = (100, 13, 21, 36, 42)


@dataclass
class BenchOptions:
    """What to benchmark and how.

    `reduce` is "none" (the papers' protocol) or "umap" (the analyst's default). `k` is "true" (the number of
    classes, the papers' protocol), "auto" (chosen by silhouette over `k_range`, by default the app's range for the data size)
    or a number; HDBSCAN ignores it. `split` picks a named benchmark's split ("train"/"val" for choosing defaults,
    "test" for reported figures); `sample` keeps that many rows (seeded), for quick trials on large splits.
    With `reuse`, a representation already computed for the same method, data and settings is read back (so a
    second protocol, e.g. `--reduce umap`, only re-clusters); its original timings are reported.
    """

    dataset: str
    method: str = "baseline"
    reduce: str = "none"
    algorithm: str = "kmeans"
    k: str = "true"
    k_range: tuple[int, int] | None = None
    seeds: Sequence[int] = DEFAULT_SEEDS
    split: str = "test"
    sample: int | None = None
    text_column: str | None = None
    label_column: str | None = None
    method_settings: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    reuse: bool = False
    work_dir: Path | None = None  # checkpoints and models of the method; a fresh folder under the home by default
    unseen: bool = False  # groups benchmarks: test groups draw on intents never seen in training
    val_domains: int | None = None  # groups benchmarks with unseen: domains held out for validation (None: default)


def load_bench_data(options: BenchOptions) -> Dataset:
    """A named benchmark's split or any labelled file given with --text-column/--label-column, maybe subsampled."""
    if options.dataset in BENCHMARKS:
        data = load_benchmark(options.dataset, split=options.split)
    elif not Path(options.dataset).exists():
        owners = [method.name for method in METHODS.values() if options.dataset in method.bench_datasets()]
        if owners:
            raise SettingsError(f"{options.dataset!r} is a benchmark of its own shape: run it with --method "
                                f"{' or '.join(owners)}.")
        raise IntakeError(f"Unknown data set {options.dataset!r}: use one of {', '.join(BENCHMARKS)} or a file path.")
    else:
        data = load_dataset(options.dataset, text_column=options.text_column, label_column=options.label_column)
    if data.label_column is None:
        raise IntakeError("A benchmark needs known classes: name the label column with --label-column.")
    if options.sample is not None and options.sample < 2:
        raise SettingsError(f"--sample must keep at least 2 rows, not {options.sample}.")
    return data.sampled(options.sample)


def requested_k(option: str, true_k: int) -> int | None:
    """The k a benchmark clusters at: the true k, None (choose it), or a given number."""
    if option == "true":
        return true_k
    if option == "auto":
        return None
    if not option.isdigit() or int(option) < 2:
        raise SettingsError(f"--k must be 'true', 'auto' or a number of at least 2, not {option!r}.")
    return int(option)


def run_bench(options: BenchOptions, progress: ProgressFn = no_progress) -> dict[str, Any]:
    """Load, represent with the method, cluster at the true k over the seeds, and time each stage."""
    method = get_method(options.method)
    if method.whole_run:  # e.g. CACTUS: many small groups, each clustered on its own, benchmarked its own way
        return method.bench(options, progress)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    data = load_bench_data(options)
    truth = np.asarray(data.labels())
    k = int(len(np.unique(truth)))
    seconds["load"] = time.perf_counter() - start

    settings = method_settings(method, options.method_settings)
    device = resolve_device(options.device)
    work_dir = options.work_dir or Path(tempfile.mkdtemp(prefix=f"{options.method}-{Path(options.dataset).stem}-",
                                                         dir=paths.bench_dir()))
    context = RunContext(RunDirectory(work_dir), lambda spec: resolve_embedder(spec, device=device),
                         progress, device=device, judgments=JudgmentStore())
    lap = time.perf_counter()
    saved = RepresentationCache(representation_key(options, settings))
    representation = saved.load() if options.reuse else None
    reused = representation is not None
    if representation is None:
        representation = method.represent(data, settings, context)
        representation.details.setdefault("seconds", {})["embed"] = time.perf_counter() - lap
        saved.save(representation)
    seconds["embed"] = representation.details["seconds"]["embed"]

    lap = time.perf_counter()
    scoring = dict(k=requested_k(options.k, k), kind=data.kind, reduce=options.reduce, seeds=options.seeds,
                   algorithm=options.algorithm, k_range=options.k_range, progress=progress)
    metrics, found = score_over_seeds(representation.embeddings, truth, **scoring)
    comparisons = {name: score_over_seeds(vectors, truth, **scoring)[0]
                   for name, vectors in representation.comparisons.items()}
    seconds["cluster"] = time.perf_counter() - lap
    seconds["total"] = time.perf_counter() - start
    for name, value in representation.details.get("seconds", {}).items():
        seconds[name] = value
    extra = method.bench_fields(representation, comparisons, k)
    return {
        "dataset": options.dataset,
        "split": options.split if options.dataset in BENCHMARKS else None,
        "method": options.method,
        "n": len(data.frame),
        "k": k,
        "metrics": metrics,
        "seconds": {name: round(value, 2) for name, value in seconds.items()},
        "representation_reused": reused,
        "reduce": options.reduce,
        "algorithm": options.algorithm,
        "k_found": found,
        "seeds": list(options.seeds),
        "settings": dataclasses.asdict(settings),
        "comparisons": comparisons,
        **extra,
    }


def representation_key(options: BenchOptions, settings: Any) -> str:
    """What a benchmark's representation depends on: method, data set, split, sample and the method's settings."""
    payload = [options.method, options.dataset, options.split, options.sample, options.text_column,
               options.label_column, dataclasses.asdict(settings)]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:24]


class RepresentationCache:
    """A benchmark representation (embeddings, comparisons, suggested k, details) saved under the bench folder."""

    def __init__(self, key: str) -> None:
        self.directory = RunDirectory(paths.bench_dir() / "representations" / key)

    def save(self, representation: Representation) -> None:
        self.directory.save_arrays("arrays.npz", embeddings=representation.embeddings,
                                   **{f"comparison:{name}": value for name, value in
                                      representation.comparisons.items()})
        self.directory.write_json("details.json", {"suggested_k": representation.suggested_k,
                                                   "details": representation.details})

    def load(self) -> Representation | None:
        """The saved representation, or None when there is none (or it is incomplete)."""
        if not (self.directory.file("details.json").exists() and self.directory.file("arrays.npz").exists()):
            return None
        arrays = self.directory.load_arrays("arrays.npz")
        saved = self.directory.read_json("details.json")
        comparisons = {name.split(":", 1)[1]: value for name, value in arrays.items() if name.startswith("comparison:")}
        return Representation(arrays["embeddings"], comparisons, saved["suggested_k"], saved["details"])


def format_table(result: dict[str, Any]) -> str:
    """The benchmark result as a small text table (metric, mean ± std)."""
    own = get_method(result["method"]).format_bench(result)
    if own is not None:
        return own
    lines = [f"{result['dataset']} · {result['method']} · n={result['n']} · k={result['k']} · reduce={result['reduce']}"
             f" · {result['algorithm']} found k={result['k_found']}",
             f"{'metric':<12}{'mean':>8}{'std':>8}"]
    for name, (mean, std) in result["metrics"].items():
        lines.append(f"{name:<12}{mean:>8.2f}{std:>8.2f}")
    for label, scores in result.get("comparisons", {}).items():
        lines.append(f"  vs {label}: " + ", ".join(f"{name} {mean:.2f}" for name, (mean, _) in scores.items()))
    lines.append("seconds: " + ", ".join(f"{name} {value:.1f}" for name, value in result["seconds"].items()))
    return "\n".join(lines)
