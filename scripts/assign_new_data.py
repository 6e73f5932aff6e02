"""How well `python -m core assign` sorts new data into a run's clusters, and how "new" behaves on unseen intents.

    python scripts/assign_new_data.py [--seeds 42,100] [--out bench_results/curation-assign.json]

Bank77: a run clusters a seeded 3,080-row sample of the train split (MiniLM, 5-d UMAP, k-means at k = 77); its test
split is assigned to the run's clusters and scored against the intents, beside clustering the test split directly
at the same k. CLINC150: 20 intents (seeded) are held out of a run on 3,900 train rows of the other 130; the
validation split chooses the share of the run's own rows that may be flagged "new" by chance (`new_quantile`), and
the test split reports how often rows of held-out intents (should be new) and of seen intents (should not) are.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.bench import subsample  # noqa: E402
from core.curation import Curation, EditLog  # noqa: E402
from core.curation.assign import NearestClusters, row_vectors  # noqa: E402
from core.data.benchmarks import load_benchmark  # noqa: E402
from core.data.dataset import Dataset  # noqa: E402
from core.embed.registry import resolve_embedder  # noqa: E402
from core.metrics import clustering_accuracy, nmi  # noqa: E402
from core.pipeline import cluster_and_score, clustering_space  # noqa: E402
from core.runs import RunDirectory, execute_run, prepare_run  # noqa: E402
from core.settings import ClusteringSettings, RunConfig  # noqa: E402

QUANTILES = (0.01, 0.02, 0.05, 0.1, 0.2)
HELD_OUT = 20
CLINC_ROWS = 3900  # a seeded sample of the seen intents' train rows (30 a intent), the size of the Bank77 run


def make_run(data: Dataset, k: int, seed: int, folder: Path, embedder) -> Curation:
    """The default pipeline on `data` at k clusters, as a run folder, opened for curation."""
    settings = ClusteringSettings(n_clusters=k, reduce="umap", n_init=1, seed=seed)
    config = RunConfig(method="baseline", dataset=data.name, kind="text", roles=data.roles, clustering=settings,
                       method_settings={"embedder": "minilm"})
    prepare_run(RunDirectory(folder), config, data.frame)
    execute_run(config, folder, embedders=lambda spec: embedder)
    return Curation(folder, log=EditLog(folder.parent / "edits.sqlite"), embedder=embedder)


def scores(truth, labels) -> dict[str, float]:
    return {"acc": round(100 * clustering_accuracy(truth, labels), 2), "nmi": round(100 * nmi(truth, labels), 2)}


def bank77(seed: int, work: Path, embedder) -> dict:
    train = subsample(load_benchmark("bank77", split="train"), 3080)
    test = load_benchmark("bank77", split="test")
    truth = np.asarray(test.labels())
    curation = make_run(train, 77, seed, work / f"bank77-{seed}", embedder)
    reference, vectors = row_vectors(curation, test.frame)
    found = NearestClusters().fit(reference, curation.labels()).predict(vectors)
    settings = ClusteringSettings(n_clusters=77, reduce="umap", n_init=1, seed=seed)
    space = clustering_space(np.asarray(embedder.encode(test.texts())), settings, "text", seed)
    direct = cluster_and_score(space, settings, y_true=truth, seed=seed).labels
    return {"run_on_train": scores(np.asarray(train.labels()), curation.labels()),
            "assigned_test": scores(truth, found.labels), "clustered_test": scores(truth, direct),
            "flagged_new_share": round(float(found.new.mean()), 4)}


def novelty(found, unseen: np.ndarray) -> dict[str, float]:
    """Share of unseen-intent rows flagged new (recall), of seen ones (false alarms), and the score's AUROC."""
    from sklearn.metrics import roc_auc_score

    return {"unseen_flagged": round(float(found.new[unseen].mean()), 4),
            "seen_flagged": round(float(found.new[~unseen].mean()), 4),
            "auroc": round(float(roc_auc_score(unseen, found.distance)), 4)}


def clinc(seed: int, work: Path, embedder) -> dict:
    def split(name: str) -> Dataset:
        return load_benchmark("clinc150-intent", split=name)

    train, val, test = split("train"), split("val"), split("test")
    intents = sorted(set(train.labels()))
    held = set(np.random.default_rng(seed).choice(intents, HELD_OUT, replace=False).tolist())
    seen = subsample(dataclasses.replace(train, frame=train.frame[~np.isin(train.labels(), list(held))]
                                         .reset_index(drop=True)), CLINC_ROWS)
    curation = make_run(seen, len(intents) - HELD_OUT, seed, work / f"clinc-{seed}", embedder)
    result: dict = {"held_out_intents": sorted(held), "run_rows": len(seen.frame)}
    for name, data in (("val", val), ("test", test)):
        unseen = np.isin(data.labels(), list(held))
        reference, vectors = row_vectors(curation, data.frame)
        result[name] = {}
        for quantile in QUANTILES:
            found = NearestClusters(new_quantile=quantile).fit(reference, curation.labels()).predict(vectors)
            result[name][str(quantile)] = {**novelty(found, unseen), **{
                f"seen_{key}": value for key, value in scores(np.asarray(data.labels())[~unseen],
                                                              found.labels[~unseen]).items()}}
    best = max(QUANTILES, key=lambda q: result["val"][str(q)]["unseen_flagged"] - result["val"][str(q)]["seen_flagged"])
    result["chosen_on_val"] = best
    result["test_at_chosen"] = result["test"][str(best)]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--skip", choices=["bank77", "clinc"], help="measure only the other data set")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    started = time.perf_counter()
    embedder = resolve_embedder("minilm")
    work = Path(tempfile.mkdtemp(prefix="assign-new-data-"))
    report: dict = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        if args.skip != "bank77":
            report.setdefault("bank77", {})[seed] = bank77(seed, work, embedder)
            print(json.dumps({"bank77": report["bank77"][seed]}), flush=True)
        if args.skip != "clinc":
            report.setdefault("clinc150", {})[seed] = clinc(seed, work, embedder)
            print(json.dumps({"clinc150_test": report["clinc150"][seed]["test_at_chosen"],
                              "new_quantile": report["clinc150"][seed]["chosen_on_val"]}), flush=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
