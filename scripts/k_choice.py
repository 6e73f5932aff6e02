"""How the number of clusters is chosen, measured on train/val splits only: `python scripts/k_choice.py [--seeds 0,1,2]
[--out curves.jsonl]`.

For each task (the bundled support sample; 3,000 rows of Bank77 train and CLINC150 val; 5-, 10- and 20-intent subsets
of both; CLINC150 val's domains) and UMAP seed, k-means is fitted at every candidate k of the default search grid on
the 5-d cosine UMAP of the default embedder's vectors, and each clustering is scored by silhouette in the UMAP space
and by cosine silhouette in the embedding space. The table says which k each choice rule takes and its ACC.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.cluster import UMAPReducer  # noqa: E402
from core.cluster.algorithms import labeller  # noqa: E402
from core.cluster.choose_k import CHECK_RATIO, MAX_CANDIDATES, best_k, default_k_range  # noqa: E402
from core.data.benchmarks import load_benchmark  # noqa: E402
from core.data.samples import load_sample  # noqa: E402
from core.embed.registry import resolve_embedder  # noqa: E402
from core.metrics import clustering_accuracy, nmi, silhouette  # noqa: E402

Row = dict[str, float]


def tasks() -> Iterator[tuple[str, list[str], np.ndarray]]:
    """(name, texts, labels) of every task, from train/val splits and the bundled sample."""
    rng = np.random.default_rng(7)
    support = load_sample("support_requests")
    yield "support", support.texts(), np.asarray(support.labels())
    for name, split in (("bank77", "train"), ("clinc150-intent", "val")):
        data = load_benchmark(name, split)
        texts, labels = np.asarray(data.texts(), dtype=object), np.asarray(data.labels())
        picked = rng.choice(len(texts), size=min(3000, len(texts)), replace=False)
        yield f"{name}-{split}", list(texts[picked]), labels[picked]
        for n_classes in (5, 10, 20):
            kept = np.isin(labels, rng.choice(np.unique(labels), size=n_classes, replace=False))
            yield f"{name}-{split}-{n_classes}", list(texts[kept]), labels[kept]
    domains = load_benchmark("clinc150-domain", "val")
    yield "clinc150-domain-val", domains.texts(), np.asarray(domains.labels())


def curves(texts: list[str], labels: np.ndarray, seed: int, embedder) -> list[Row]:
    """Both silhouettes, NMI and ACC at every k of the default search's coarse grid."""
    embeddings = np.asarray(embedder.encode(texts))
    low, high = default_k_range(len(texts))
    grid = (range(low, high + 1) if high - low < MAX_CANDIDATES
            else sorted({int(round(k)) for k in np.geomspace(low, high, MAX_CANDIDATES)}))
    reduced = UMAPReducer(5, seed=seed).fit_transform(embeddings)
    label_at = labeller(reduced, "kmeans", seed=seed, n_init=3)
    return [{"k": k, "umap": silhouette(reduced, label_at(k), sample_size=3000, seed=seed),
             "embedding": silhouette(embeddings, label_at(k), metric="cosine", sample_size=3000, seed=seed),
             "nmi": nmi(labels, label_at(k)), "acc": clustering_accuracy(labels, label_at(k))} for k in grid]


def pick(rows: list[Row], key: str) -> int:
    return best_k({int(row["k"]): row[key] for row in rows})


RULES: dict[str, Callable[[list[Row]], int]] = {
    "UMAP silhouette": lambda rows: pick(rows, "umap"),
    "embedding silhouette": lambda rows: pick(rows, "embedding"),
    f"UMAP, checked (ratio {CHECK_RATIO})": lambda rows: best_k({int(r["k"]): r["umap"] for r in rows},
                                                                {int(r["k"]): r["embedding"] for r in rows}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", help="also write every curve here (JSON lines)")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    embedder = resolve_embedder("minilm")
    sink = open(args.out, "w") if args.out else None
    print("| task | true k | " + " | ".join(RULES) + " |\n|---|---|" + "---|" * len(RULES))
    means: dict[str, list[float]] = {name: [] for name in RULES}
    for task, texts, labels in tasks():
        runs = [curves(texts, labels, seed, embedder) for seed in seeds]
        cells = []
        for name, rule in RULES.items():
            chosen = [next(row for row in rows if row["k"] == rule(rows)) for rows in runs]
            means[name].append(float(np.mean([row["acc"] for row in chosen])))
            cells.append("/".join(str(row["k"]) for row in chosen) + f": {100 * means[name][-1]:.1f}")
        print(f"| {task} | {len(np.unique(labels))} | " + " | ".join(cells) + " |", flush=True)
        if sink:
            for seed, rows in zip(seeds, runs):
                sink.write(json.dumps({"task": task, "seed": seed, "rows": rows}) + "\n")
    print("| mean ACC | | " + " | ".join(f"{100 * np.mean(values):.1f}" for values in means.values()) + " |")


if __name__ == "__main__":
    main()
