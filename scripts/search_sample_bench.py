"""How much the search for k loses when it runs on a sample, to choose `search_sample` (bench_results/scale.md).

    python scripts/search_sample_bench.py --out bench_results/search-sample.json

Only train and validation data: Bank77 train and CLINC150 train + val (no test split), a seeded sample of --rows
texts, embedded with MiniLM and reduced to 5-d UMAP as a run does. k-means then searches k over the default range on
every row (the reference) and on seeded samples of S rows at m starts per candidate, always fitting the chosen k on
every row with 10 starts. Each variant prints its k, NMI against the intents, and seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS: tuple[tuple[int | None, int], ...] = ((None, 10), (10_000, 3), (5_000, 10), (5_000, 3), (5_000, 1),
                                                (2_500, 3))
"""(search_sample, k-means starts per candidate k) pairs; (None, 10) is the search on every row, as before."""
SOURCES: tuple[tuple[str, str], ...] = (("bank77", "train"), ("clinc150-intent", "train"), ("clinc150-intent", "val"))


def corpus(rows: int, seed: int) -> tuple[list[str], list[str]]:
    """A seeded sample of `rows` distinct (text, intent) pairs of the train and validation splits."""
    import numpy as np
    import pandas as pd

    from core.data.benchmarks import load_benchmark

    parts = [pd.DataFrame({"text": data.texts(), "label": [f"{name}:{label}" for label in data.labels()]})
             for name, split in SOURCES for data in [load_benchmark(name, split)]]
    frame = pd.concat(parts, ignore_index=True).drop_duplicates("text", ignore_index=True)
    keep = np.sort(np.random.default_rng(seed).permutation(len(frame))[:rows])
    return frame["text"].iloc[keep].tolist(), frame["label"].iloc[keep].tolist()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--out", help="write the JSON result here")
    args = parser.parse_args()

    from core.cluster import Clusterer, UMAPReducer
    from core.embed.registry import resolve_embedder
    from core.metrics import nmi

    load_before = [round(value, 2) for value in os.getloadavg()]
    texts, labels = corpus(args.rows, seed=0)
    embeddings = resolve_embedder("minilm").encode(texts)
    results = []
    for seed in args.seeds:
        space = UMAPReducer(n_components=5, seed=seed, fit_sample=None).fit_transform(embeddings)
        for search_sample, starts in VARIANTS:
            started = time.perf_counter()
            model = Clusterer("kmeans", seed=seed, fit_sample=None, search_sample=search_sample,
                              search_n_init=starts).fit(space)
            row = {"seed": seed, "search_sample": search_sample, "search_n_init": starts, "k": model.n_clusters_,
                   "nmi": round(100 * nmi(labels, model.labels_), 2),
                   "seconds": round(time.perf_counter() - started, 1)}
            results.append(row)
            print(json.dumps(row), flush=True)
    result = {"rows": len(texts), "intents": len(set(labels)), "sources": [list(pair) for pair in SOURCES],
              "results": results, "load_average_before": load_before,
              "load_average_after": [round(value, 2) for value in os.getloadavg()], "cores": os.cpu_count(),
              "command": "python scripts/search_sample_bench.py " + " ".join(sys.argv[1:])}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
