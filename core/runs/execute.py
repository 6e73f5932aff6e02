"""A run as a pure function of (config, run directory, progress callback, stop flag).

The same function runs in the app's worker thread, in the command line, in a subprocess or on a cluster node: it
reads the data snapshot and config from the run folder and writes every artifact back there.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.cluster import ClusterTree, SampleNeighbours, project_2d
from core.cluster.reduce import RowMap, in_process
from core.data.dataset import Dataset
from core.device import resolve_device
from core.embed.base import BatchProgress, Embedder
from core.embed.registry import resolve_embedder
from core.errors import SettingsError
from core.llm.store import JudgmentStore
from core.methods import get_method, method_settings
from core.methods.base import EmbedderFactory, RunContext
from core.pipeline import choose_k, cluster_and_score, clustering_space, k_range_of, uses_umap
from core.progress import ProgressFn, StopFn, format_duration, never_stop, no_progress
from core.settings import FIT_SAMPLE, RunConfig, check_settings
from core.storage import CONFIG, EMBEDDINGS, INPUT, LABELS, METRICS, PROJECTION, TREE, RunDirectory

SPACE = "space.npy"
TREE_MAX_LEAVES = 300
STAGE_SECONDS_PER_ROW: dict[str, tuple[float, float]] = {
    "embed": (0.0, 1 / 150),
    "reduce": (1.5e-3, 1.0e-4),
    "cluster": (1.5e-3, 2.0e-5),
    "hierarchy": (0.0, 5.0e-5),
    "project": (1.5e-3, 1.0e-4),
    "save": (0.0, 2.0e-5),
}
"""Seconds per row of each stage of a row method's run on this project's 2-core machine, as (per fitted row, per row):
UMAP and the search for k are fitted on at most FIT_SAMPLE rows and then cost little per further row. They set the
progress bar's share of each stage (scripts/scale_bench.py measures them: bench_results/scale.md); a method that
estimates its own time replaces the "embed" entry with its estimate."""
STAGES = tuple(STAGE_SECONDS_PER_ROW)


def stage_spans(n_rows: int, method_seconds: float | None = None, *, reduces: bool = True,
                fit_sample: int | None = FIT_SAMPLE) -> dict[str, tuple[float, float]]:
    """Each stage's share [start, end) of the progress bar, proportional to its expected cost at `n_rows`.

    `method_seconds` is the method's own estimate of its representation step (None: embedding at the measured
    rate); a run that does not reduce has no "reduce" cost."""
    fitted = min(n_rows, fit_sample or n_rows)
    costs = {stage: per_fitted * fitted + per_row * n_rows for stage, (per_fitted, per_row)
             in STAGE_SECONDS_PER_ROW.items()}
    if method_seconds is not None:
        costs["embed"] = method_seconds
    if not reduces:
        costs["reduce"] = 0.0
    total = sum(costs.values()) or 1.0
    spans, start = {}, 0.0
    for stage in STAGES:
        end = start + 0.99 * costs[stage] / total
        spans[stage] = (start, end)
        start = end
    return spans


class EmbeddingMeter:
    """The run's progress callback with the embedding's pace added: embedders made through `embedders` time their
    rows, and messages of the "embed" stage gain rows per second and the time left."""

    def __init__(self, progress: ProgressFn, factory: Callable[[str], Embedder]) -> None:
        self.progress = progress
        self.factory = factory
        self.started: tuple[float, int] | None = None
        self.rate: float | None = None
        self.left: float | None = None

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        if stage == "embed" and self.rate:
            message += f" · {self.rate:,.0f} rows/s · about {format_duration(self.left or 0.0)} left"
        self.progress(stage, fraction, message)

    def embedders(self, spec: str) -> Embedder:
        return MeteredEmbedder(self.factory(spec), self)

    def observe(self, done: int, total: int) -> None:
        """Record that `done` of `total` texts are embedded (the first report, cached texts included, is the start)."""
        now = time.perf_counter()
        if self.started is None or done < self.started[1]:
            self.started, self.rate, self.left = (now, done), None, None
            return
        elapsed, embedded = now - self.started[0], done - self.started[1]
        if embedded > 0 and elapsed > 0:
            self.rate = embedded / elapsed
            self.left = (total - done) / self.rate


class MeteredEmbedder:
    """An embedder whose progress reports also reach an EmbeddingMeter; `embedder` is the wrapped one (methods that
    fine-tune reach the model through it)."""

    def __init__(self, embedder: Embedder, meter: EmbeddingMeter) -> None:
        self.embedder = embedder
        self.meter = meter
        self.name = embedder.name

    def encode(self, texts: list[str], progress: BatchProgress | None = None) -> np.ndarray:
        self.meter.started = None

        def report(done: int, total: int) -> None:
            self.meter.observe(done, total)
            if progress:
                progress(done, total)

        return self.embedder.encode(texts, progress=report)


class StageTimer:
    """Wall-clock seconds of each stage of a run, in order (`laps`), saved with its scores."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Close `stage` now."""
        now = time.perf_counter()
        self.laps[stage] = round(now - self._last, 3)
        self._last = now


def prepare_run(directory: RunDirectory, config: RunConfig, frame: pd.DataFrame) -> None:
    """Write what a run needs to start: its config and a snapshot of the data (so later edits cannot change it)."""
    Dataset(frame, config.kind, config.roles, name=config.dataset).validate()
    method = get_method(config.method)
    if config.kind not in method.kinds:
        raise SettingsError(f"{method.title} works on {' or '.join(method.kinds)} data, and this data set is a "
                            f"{config.kind}. Pick another method or change the data's kind on the Data page.")
    method_settings(method, config.method_settings)
    check_settings(config.clustering)
    directory.write_json(CONFIG, config.to_dict())
    directory.save_frame(INPUT, frame)


def load_run_dataset(directory: RunDirectory, config: RunConfig) -> Dataset:
    """The data snapshot of a run, with the roles it was started with."""
    return Dataset(directory.load_frame(INPUT), config.kind, config.roles, name=config.dataset)


def execute_run(config: RunConfig, run_dir: str | Path, progress: ProgressFn = no_progress,
                should_stop: StopFn = never_stop, *, embedders: EmbedderFactory | None = None,
                judgments: JudgmentStore | None = None, row_map: RowMap = in_process) -> dict[str, Any]:
    """Represent the rows with the configured method, cluster, score, project and save; return a short summary.

    `embedders` and `judgments` default to the machine's model registry and the catalogue's answer store; `row_map`
    places and assigns the rows that UMAP and the clusterer were not fitted on (here, or in parallel on Ray)."""
    directory = RunDirectory(run_dir)
    data = load_run_dataset(directory, config)
    data.validate()
    method = get_method(config.method)
    settings = method_settings(method, config.method_settings)
    device = resolve_device(config.device)
    clustering = config.clustering
    n_rows = len(data.frame)
    meter = EmbeddingMeter(progress, embedders or (lambda spec: resolve_embedder(spec, device=device)))
    spans = stage_spans(n_rows, method.estimate_seconds(data, settings, device),
                        reduces=uses_umap(clustering, data.kind), fit_sample=clustering.fit_sample)
    context = RunContext(directory, meter.embedders, meter, should_stop, device,
                         span=(0.0, 0.99) if method.whole_run else spans["embed"],
                         judgments=judgments or JudgmentStore(), k_range=k_range_of(clustering, n_rows))
    progress("start", 0.0, f"Starting {method.title} on {n_rows:,} rows ({device})")
    if method.whole_run:
        summary = method.execute(data, settings, context)
        progress("done", 1.0, "Finished")
        return summary
    timer = StageTimer()
    representation = method.represent(data, settings, context)
    context.check_stop()
    directory.save_array(EMBEDDINGS, representation.embeddings.astype(np.float32))
    timer.lap("embed")

    truth = np.asarray(data.labels()) if data.label_column else None
    progress("reduce", spans["reduce"][0],
             "Reducing with UMAP" if uses_umap(clustering, data.kind) else "Preparing to cluster")
    neighbours = SampleNeighbours(seed=clustering.seed, fit_sample=clustering.fit_sample,
                                  row_map=row_map).fit(representation.embeddings)  # the reduction's and the map's
    space = clustering_space(representation.embeddings, clustering, data.kind, clustering.seed, row_map, neighbours)
    context.check_stop()
    timer.lap("reduce")
    progress("cluster", spans["cluster"][0], f"Clustering with {clustering.algorithm}")
    choice = choose_k(clustering, len(data.frame), representation.suggested_k, representation.k_scores,
                      method.label)
    with_range = replace(clustering, k_min=choice.k_range[0], k_max=choice.k_range[1])
    outcome = cluster_and_score(space, with_range, y_true=truth, n_clusters=choice.k, row_map=row_map,
                                embeddings=representation.embeddings)
    silhouette_k = outcome.n_clusters if choice.source == "silhouette" else None
    if choice.source == "method":  # the silhouette's choice, shown beside the method's
        silhouette_k = cluster_and_score(space, with_range, n_clusters=None, row_map=row_map,
                                         embeddings=representation.embeddings).n_clusters
    comparisons = {}
    for name, embeddings in representation.comparisons.items():
        context.check_stop()
        progress("compare", spans["cluster"][1], f"Scoring the comparison '{name}'")
        other_space = clustering_space(embeddings, clustering, data.kind, clustering.seed, row_map)
        comparisons[name] = cluster_and_score(other_space, clustering, y_true=truth, n_clusters=outcome.n_clusters,
                                              row_map=row_map).metrics

    timer.lap("cluster")
    progress("hierarchy", spans["hierarchy"][0], "Building the cluster tree")
    tree = ClusterTree(max_leaves=TREE_MAX_LEAVES, seed=clustering.seed).fit(space)
    context.check_stop()
    timer.lap("hierarchy")
    progress("project", spans["project"][0], "Projecting to 2-D for the scatter plot")
    projection = project_2d(representation.embeddings, seed=clustering.seed, fit_sample=clustering.fit_sample,
                            row_map=row_map, neighbours=neighbours)
    context.check_stop()
    timer.lap("project")
    progress("save", spans["save"][0], "Saving the results")
    directory.save_array(SPACE, space.astype(np.float32))
    directory.save_array(LABELS, outcome.labels)
    directory.save_array(PROJECTION, projection.astype(np.float32))
    directory.save_arrays(TREE, linkage=tree.linkage_, leaf_of_point=tree.leaf_of_point_)
    metrics = {
        "n": len(data.frame),
        "k": outcome.n_clusters,
        "k_source": choice.source,
        "k_range": list(choice.k_range),
        "k_method": choice.method_k,
        "k_silhouette": silhouette_k,
        "k_setting": clustering.n_clusters,
        "k_note": choice.note,
        "clustered_space": f"umap-{space.shape[1]}d" if space is not representation.embeddings else "embeddings",
        "metrics": outcome.metrics,
        "k_curve": outcome.k_curve,
        "k_curve_unreduced": outcome.k_curve_unreduced,
        "noise_fraction": outcome.noise_fraction,
        "comparisons": comparisons,
        "comparison_titles": method.comparison_titles,
        "details": representation.details,
        "embed_rows_per_second": meter.rate,
    }
    timer.lap("save")
    metrics["stage_seconds"] = timer.laps
    directory.write_json(METRICS, metrics)
    progress("done", 1.0, f"Found {outcome.n_clusters} clusters")
    return {"k": outcome.n_clusters, **{key: value for key, value in outcome.metrics.items()}}
