"""Do a person's edits teach the embedder? A seeded simulated analyst edits the default run's clusters; we score the
edited labels (`labels_only`) and the re-clustering of the embedder fine-tuned on the edits (`retrained`), and the
same with as many person-answered triplets (simulated from the labels) instead of edits. `retrained` is the
re-clustering of every row with k-means started from the edited clusters (what "retrain from my edits" does),
`retrained_kept` the same with the rows the person placed by hand kept in place (what the new run shows), and
`retrained_fresh` k-means from scratch at the true k (the fine-tuned embedder alone).

Per seed: the default pipeline (5-d UMAP + k-means at the true k, as `python -m core bench DATA --reduce umap`) makes
a run; the analyst makes up to max(edits) edits through `Curation`; after each checkpoint count the edits so far are
learned from. Scores are 0-100, [mean, std] over the seeds, as in the bench JSON.
"""
from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.curation.analyst import SimulatedAnalyst
from core.curation.edits import EditLog, EditRecord, replay
from core.curation.learn import EditRetrainer, EditTriplets, warm_kmeans
from core.curation.retrain import person_rows
from core.curation.session import Curation
from core.data.dataset import Dataset
from core.embed.base import Embedder
from core.embed.registry import DEFAULT_EMBEDDER
from core.embed.encoders import encode_with, trainable_model
from core.llm.oracle import OracleJudge
from core.methods.clusterllm.objective import TripletFineTuner
from core.methods.clusterllm.sampling import triplets_by_entropy
from core.metrics import mean_std, score_clustering
from core.pipeline import cluster_and_score, clustering_space
from core.progress import ProgressFn, no_progress
from core.runs import RunDirectory, execute_run, prepare_run
from core.settings import ClusteringSettings, RunConfig

REPORTED = ("acc", "nmi", "ari", "ami", "silhouette")


def summarise(runs: Sequence[dict[str, float]]) -> dict[str, list[float]]:
    """[mean, std] on a 0-100 scale for the reported metrics."""
    summary = mean_std(list(runs), scale=100.0)
    return {name: [round(summary[name][0], 2), round(summary[name][1], 2)] for name in REPORTED if name in summary}


def bench_edits(data: Dataset, embedder: Embedder, *, embedder_spec: str = DEFAULT_EMBEDDER,
                edits: Sequence[int] = (10, 30, 100), seeds: Sequence[int] = (100,),
                triplets: EditTriplets | None = None, epochs: int = 2, compare: Sequence[int] = (30,),
                work_dir: Path | None = None, dataset: str | None = None,
                progress: ProgressFn = no_progress) -> dict[str, Any]:
    """The bench-edits JSON for a labelled text data set (see the module docstring). `embedder` is the one the
    `embedder_spec` setting names (the runs record the setting); the person-answered triplets are compared at the
    edit counts in `compare` (each comparison fine-tunes twice more). Without `work_dir` its runs go to a scratch
    folder that is removed afterwards."""
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="bench-edits-") as scratch:
            return bench_edits(data, embedder, embedder_spec=embedder_spec, edits=edits, seeds=seeds,
                               triplets=triplets, epochs=epochs, compare=compare, work_dir=Path(scratch),
                               dataset=dataset, progress=progress)
    started = time.perf_counter()
    texts, truth = data.texts(), np.asarray(data.labels())
    k = int(len(np.unique(truth)))
    work = Path(work_dir)
    log = EditLog(work / "edits.sqlite")
    edits = sorted(set(int(n) for n in edits))
    scores: dict[str, list[dict[str, float]]] = {}
    details: dict[str, list[Any]] = {}
    for seed in seeds:
        progress("base", 0.0, f"Seed {seed}: the default run")
        settings = ClusteringSettings(n_clusters=k, reduce="umap", n_init=1, seed=seed)
        run_dir = work / f"seed-{seed}"
        config = RunConfig(method="baseline", dataset=data.name, kind="text", roles=data.roles, clustering=settings,
                           method_settings={"embedder": embedder_spec})
        prepare_run(RunDirectory(run_dir), config, data.frame)
        execute_run(config, run_dir, embedders=lambda spec: embedder)
        curation = Curation(run_dir, log=log)
        run = curation.artifacts
        scores.setdefault("base", []).append(run.scores["metrics"])
        analyst = SimulatedAnalyst(truth, seed=seed)
        snapshots: dict[int, list[EditRecord]] = {}
        for step in range(1, edits[-1] + 1):
            edit = analyst.next_edit(curation.labels())
            if edit is None:
                break
            curation.apply(edit)
            if step in edits:
                snapshots[step] = curation.records()
        for n in edits:
            records = snapshots.get(n) or curation.records()
            progress("retrain", 0.0, f"Seed {seed}: learning from {len(records)} edits")
            labels = replay(run.labels, records).labels
            scores.setdefault(f"{n}/labels_only", []).append(score_clustering(run.space, labels, truth))
            maker = EditTriplets(**{**vars(triplets or EditTriplets()), "seed": seed})
            if len(maker.fit(run.labels, records, run.embeddings).triplets_):
                model = EditRetrainer(settings, triplets=maker, epochs=epochs).fit(
                    texts, embedder, run.labels, records, run.embeddings, labels)
                space, relabelled, n_train = model.space_, model.labels_, model.n_train_
            else:  # the analyst found nothing to fix, so there is nothing to learn: the base run stands
                space, relabelled, n_train = run.space, warm_kmeans(run.space, labels, seed), 0
            scores.setdefault(f"{n}/retrained", []).append(score_clustering(space, relabelled, truth))
            kept = relabelled.copy()
            placed = person_rows(records)
            kept[placed] = labels[placed]
            scores.setdefault(f"{n}/retrained_kept", []).append(score_clustering(space, kept, truth))
            scores.setdefault(f"{n}/retrained_fresh", []).append(
                cluster_and_score(space, settings, y_true=truth, seed=seed).metrics)
            details.setdefault(f"{n}/edits_made", []).append(len(records))
            details.setdefault(f"{n}/triplets_from_edits", []).append(int(n_train))
            details.setdefault(f"{n}/k_after_edits", []).append(int(len(np.unique(labels[labels >= 0]))))
            details.setdefault(f"{n}/kinds", []).append({kind: sum(r.kind == kind for r in records)
                                                         for kind in ("merge", "split", "move")})
            if n in compare:
                for name, count in (("same_actions", len(records)), ("same_triplets", n_train)):
                    progress("compare", 0.0, f"Seed {seed}: {count} person-answered triplets")
                    found = answered_triplets(texts, truth, run.embeddings, count, seed)
                    space = retrain_on_triplets(found, texts, embedder, settings, epochs)
                    scores.setdefault(f"{n}/triplets_{name}/retrained", []).append(
                        score_clustering(space, warm_kmeans(space, run.labels, seed), truth))
                    scores.setdefault(f"{n}/triplets_{name}/retrained_fresh", []).append(
                        cluster_and_score(space, settings, y_true=truth, seed=seed).metrics)
                    details.setdefault(f"{n}/triplets_{name}/decided", []).append(len(found))
    result: dict[str, Any] = {"dataset": dataset or data.name, "n": len(texts), "k": k, "seeds": list(seeds),
                              "base": summarise(scores["base"]), "edits": {}}
    for n in edits:
        entry: dict[str, Any] = {"labels_only": summarise(scores[f"{n}/labels_only"]),
                                 "retrained": summarise(scores[f"{n}/retrained"]),
                                 "retrained_kept": summarise(scores[f"{n}/retrained_kept"]),
                                 "retrained_fresh": summarise(scores[f"{n}/retrained_fresh"])}
        for key in ("edits_made", "triplets_from_edits", "k_after_edits", "kinds"):
            entry[key] = details[f"{n}/{key}"]
        if n in compare:
            entry["triplets"] = {name: {"questions": details[f"{n}/edits_made"] if name == "same_actions" else
                                        details[f"{n}/triplets_from_edits"],
                                        "decided": details[f"{n}/triplets_{name}/decided"],
                                        "retrained": summarise(scores[f"{n}/triplets_{name}/retrained"]),
                                        "retrained_fresh": summarise(scores[f"{n}/triplets_{name}/retrained_fresh"])}
                                 for name in ("same_actions", "same_triplets")}
        result["edits"][str(n)] = entry
    result["settings"] = {"triplets": vars(triplets or EditTriplets()), "epochs": epochs}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def answered_triplets(texts: list[str], truth: np.ndarray, embeddings: np.ndarray, count: int,
                      seed: int) -> list[tuple[str, str, str]]:
    """`count` ClusterLLM questions (entropy-sampled from the base embeddings) answered from the labels, as a person
    reviewing them would; undecidable ones are dropped."""
    judge = OracleJudge(texts, truth.tolist())
    found = []
    for a, b, c in triplets_by_entropy(embeddings, count, n_clusters=min(100, len(texts) // 5), seed=seed):
        choice = judge.answer_triplet(texts[a], texts[b], texts[c]).choice
        if choice:
            closer, farther = (b, c) if choice == 1 else (c, b)
            found.append((texts[a], texts[closer], texts[farther]))
    return found


def retrain_on_triplets(train: list[tuple[str, str, str]], texts: list[str], embedder: Embedder,
                        settings: ClusteringSettings, epochs: int) -> np.ndarray:
    """The clustering space of the embedder fine-tuned on text triplets (the base space when there are none)."""
    model = trainable_model(embedder)
    if train:
        TripletFineTuner(epochs=epochs, seed=settings.seed).fit(model, train)
    return clustering_space(encode_with(model, texts), settings, "text", settings.seed)


def format_bench_edits(result: dict[str, Any]) -> str:
    """The bench-edits result as a small table: ACC and NMI of the base run, the edited labels and the retrains."""
    def cell(metrics: dict[str, list[float]]) -> str:
        return f"{metrics['acc'][0]:6.2f} / {metrics['nmi'][0]:6.2f}"

    lines = [f"{result['dataset']} · n={result['n']} · k={result['k']} · seeds={result['seeds']} · ACC / NMI",
             f"{'edits':>6}  {'labels only':>15}  {'retrained':>15}  {'fresh k-means':>15}  {'triplets':>15}",
             f"{0:>6}  {cell(result['base']):>15}"]
    for n, entry in result["edits"].items():
        triplets = entry.get("triplets", {}).get("same_actions")
        lines.append(f"{n:>6}  {cell(entry['labels_only']):>15}  {cell(entry['retrained']):>15}  "
                     f"{cell(entry['retrained_fresh']):>15}  {cell(triplets['retrained']) if triplets else '':>15}")
    lines.append(f"seconds: {result['seconds']}")
    return "\n".join(lines)
