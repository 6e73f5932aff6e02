""""Retrain from my edits": a new run folder holding the embedder fine-tuned on a run's edits (and the person's
reviewed triplet answers), the re-clustering of every row, and the person's names and row placements carried over
where clusters correspond. The edited run is left as it was, so the person can compare and go back."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from core.cluster import ClusterTree, project_2d
from core.curation.edits import NOISE, EditRecord, Rename
from core.curation.learn import EditRetrainer, EditTriplets, effective_records
from core.curation.session import Curation
from core.errors import SettingsError
from core.llm.store import JudgmentStore
from core.metrics import score_clustering
from core.progress import ProgressFn, StopFn, never_stop, no_progress
from core.runs.execute import SPACE, TREE_MAX_LEAVES, prepare_run
from core.storage import EMBEDDINGS, LABELS, METRICS, PROJECTION, TREE, RunDirectory

MODEL_FOLDER = "finetuned-model"


def reviewed_triplets(store: JudgmentStore, run_id: str) -> list[tuple[str, str, str]]:
    """A run's triplet questions a person answered, as (anchor, closer, farther) texts."""
    found = []
    for judgment in store.list(run_id, kind="triplet"):
        if judgment.reviewed and judgment.person_answer in (1, 2):
            anchor, first, second = judgment.texts
            found.append((anchor, first, second) if judgment.person_answer == 1 else (anchor, second, first))
    return found


def person_rows(records: list[EditRecord]) -> np.ndarray:
    """Rows the person placed by hand (moved, or marked as outliers) in the edits that still count."""
    rows = [row for record in effective_records(records) if record.kind in ("move", "outliers")
            for row in record.payload["rows"]]
    return np.unique(np.asarray(rows, dtype=np.int64))


def retrain_run(curation: Curation, out_dir: str | Path, *, triplets: EditTriplets | None = None, epochs: int = 2,
                judgments: JudgmentStore | None = None, device: str = "cpu", progress: ProgressFn = no_progress,
                should_stop: StopFn = never_stop) -> RunDirectory:
    """Fine-tune on the run's edits, re-cluster, and write a complete run to `out_dir` (which the pages open like
    any run); the person's names follow their clusters into the new run's edit log."""
    run = curation.artifacts
    if run.data.kind != "text":
        raise SettingsError("Retraining from edits fine-tunes a text embedder, and this run clusters a table. Your "
                            "edits are kept in this run.")
    records = curation.records()
    state = curation.replayed()
    reviewed = reviewed_triplets(judgments or JudgmentStore(curation.log.path), run.directory.run_id)
    model = EditRetrainer(run.config.clustering, triplets=triplets, epochs=epochs, device=device, progress=progress,
                          should_stop=should_stop).fit(run.data.texts(), curation.embedder, run.labels, records,
                                                       run.embeddings, state.labels, reviewed)
    labels = model.labels_.copy()
    placed = person_rows(records)
    present = set(np.unique(labels).tolist()) | {NOISE}
    placed = placed[np.isin(state.labels[placed], list(present))]
    labels[placed] = state.labels[placed]

    out = RunDirectory(out_dir)
    k = int(len(np.unique(labels[labels != NOISE])))
    config = dataclasses.replace(run.config, clustering=dataclasses.replace(run.config.clustering, n_clusters=k))
    prepare_run(out, config, run.data.frame)
    model.model_.save(str(out.file(MODEL_FOLDER)))
    progress("hierarchy", 0.9, "Building the cluster tree and the map")
    seed = run.config.clustering.seed
    tree = ClusterTree(max_leaves=TREE_MAX_LEAVES, seed=seed).fit(model.space_)
    out.save_array(EMBEDDINGS, model.embeddings_.astype(np.float32))
    out.save_array(SPACE, model.space_.astype(np.float32))
    out.save_array(LABELS, labels)
    out.save_array(PROJECTION, project_2d(model.embeddings_, seed=seed).astype(np.float32))
    out.save_arrays(TREE, linkage=tree.linkage_, leaf_of_point=tree.leaf_of_point_)
    out.write_json(METRICS, {
        "n": len(labels), "k": k, "k_source": "edits",
        "clustered_space": f"umap-{model.space_.shape[1]}d" if model.space_.shape[1] != model.embeddings_.shape[1]
        else "embeddings",
        "metrics": score_clustering(model.space_, labels, run.truth), "k_curve": None,
        "noise_fraction": float(np.mean(labels == NOISE)),
        "comparisons": {"edited": score_clustering(run.space, state.labels, run.truth)},
        "comparison_titles": {"edited": "your edited clusters before retraining"},
        "details": {"retrained_from": str(curation.run_dir), "edit_version": state.version,
                    "triplets": {"edits": int(len(model.triplets_)), "reviewed": len(reviewed)},
                    "rows_kept_in_place": int(len(placed)), "loss_curve": model.history_},
    })
    retrained = Curation(out.path, log=curation.log, names=curation.names)
    for cluster, (name, description) in sorted(state.names.items()):
        if cluster in present and cluster != NOISE:
            retrained.apply(Rename(cluster, name, description))
    progress("done", 1.0, f"Retrained on {model.n_train_} triplets; {k} clusters")
    return out
