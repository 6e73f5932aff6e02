"""A run as a pure function of (config, run directory, progress callback, stop flag).

The same function runs in the app's worker thread, in the command line, in a subprocess or on a cluster node: it
reads the data snapshot and config from the run folder and writes every artifact back there.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.cluster import ClusterTree, project_2d
from core.data.dataset import Dataset
from core.device import resolve_device
from core.embed.registry import resolve_embedder
from core.errors import SettingsError
from core.llm.store import JudgmentStore
from core.methods import get_method, method_settings
from core.methods.base import EmbedderFactory, RunContext
from core.pipeline import choose_k, cluster_and_score, clustering_space, k_range_of, uses_umap
from core.progress import ProgressFn, StopFn, never_stop, no_progress
from core.settings import RunConfig, check_settings
from core.storage import CONFIG, EMBEDDINGS, INPUT, LABELS, METRICS, PROJECTION, TREE, RunDirectory

SPACE = "space.npy"
TREE_MAX_LEAVES = 300
METHOD_SPAN = (0.02, 0.65)


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
                judgments: JudgmentStore | None = None) -> dict[str, Any]:
    """Represent the rows with the configured method, cluster, score, project and save; return a short summary.

    `embedders` and `judgments` default to the machine's model registry and the catalogue's answer store."""
    directory = RunDirectory(run_dir)
    data = load_run_dataset(directory, config)
    data.validate()
    method = get_method(config.method)
    settings = method_settings(method, config.method_settings)
    device = resolve_device(config.device)
    clustering = config.clustering
    context = RunContext(directory, embedders or (lambda spec: resolve_embedder(spec, device=device)),
                         progress, should_stop, device, span=(0.0, 0.99) if method.whole_run else METHOD_SPAN,
                         judgments=judgments or JudgmentStore(), k_range=k_range_of(clustering, len(data.frame)))
    progress("start", 0.0, f"Starting {method.title} on {len(data.frame)} rows ({device})")
    if method.whole_run:
        summary = method.execute(data, settings, context)
        progress("done", 1.0, "Finished")
        return summary
    representation = method.represent(data, settings, context)
    context.check_stop()
    directory.save_array(EMBEDDINGS, representation.embeddings.astype(np.float32))

    truth = np.asarray(data.labels()) if data.label_column else None
    progress("reduce", 0.68, "Reducing with UMAP" if uses_umap(clustering, data.kind) else "Preparing to cluster")
    space = clustering_space(representation.embeddings, clustering, data.kind, clustering.seed)
    context.check_stop()
    progress("cluster", 0.75, f"Clustering with {clustering.algorithm}")
    choice = choose_k(clustering, len(data.frame), representation.suggested_k, representation.k_scores,
                      method.label)
    with_range = replace(clustering, k_min=choice.k_range[0], k_max=choice.k_range[1])
    outcome = cluster_and_score(space, with_range, y_true=truth, n_clusters=choice.k)
    silhouette_k = outcome.n_clusters if choice.source == "silhouette" else None
    if choice.source == "method":  # the silhouette's choice, shown beside the method's
        silhouette_k = cluster_and_score(space, with_range, n_clusters=None).n_clusters
    comparisons = {}
    for name, embeddings in representation.comparisons.items():
        context.check_stop()
        progress("compare", 0.8, f"Scoring the comparison '{name}'")
        other_space = clustering_space(embeddings, clustering, data.kind, clustering.seed)
        comparisons[name] = cluster_and_score(other_space, clustering, y_true=truth,
                                              n_clusters=outcome.n_clusters).metrics

    progress("hierarchy", 0.85, "Building the cluster tree")
    tree = ClusterTree(max_leaves=TREE_MAX_LEAVES, seed=clustering.seed).fit(space)
    context.check_stop()
    progress("project", 0.9, "Projecting to 2-D for the scatter plot")
    projection = project_2d(representation.embeddings, seed=clustering.seed)

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
        "noise_fraction": outcome.noise_fraction,
        "comparisons": comparisons,
        "comparison_titles": method.comparison_titles,
        "details": representation.details,
    }
    directory.write_json(METRICS, metrics)
    progress("done", 1.0, f"Found {outcome.n_clusters} clusters")
    return {"k": outcome.n_clusters, **{key: value for key, value in outcome.metrics.items()}}
