"""Rows per second of each embedding backend against torch, on the same texts, with their agreement with torch.

    python scripts/embed_backends.py minilm 1000 --rounds 3 --out bench_results/backends/speed-minilm.json
    python scripts/embed_backends.py mpnet 300 --rounds 3 --out bench_results/backends/speed-mpnet.json

The texts are the first N of CLINC150's test split. Backends run in turns, round after round, and each keeps its best
round, so a machine shared with other work slows them alike. Exports are made (once) before timing. The Bank77 NMI of
each backend comes from the benchmark, run separately:
`python -m core bench bank77 --reduce umap --embedder minilm@BACKEND --out bench_results/backends/...`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="minilm or mpnet (or any local sentence-transformers folder)")
    parser.add_argument("n", type=int)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="torch,onnx,onnx-int8,openvino,openvino-int8")
    parser.add_argument("--out")
    args = parser.parse_args()

    import numpy as np

    from core.data.benchmarks import load_benchmark
    from core.embed.backends import ExportedEmbedder
    from core.embed.base import SentenceTransformerEmbedder, available_cores
    from core.embed.registry import describe_embedder

    texts = load_benchmark("clinc150-intent", "test").texts()[:args.n]
    source = describe_embedder(args.model)[0]
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    models = {name: SentenceTransformerEmbedder(source) if name == "torch" else ExportedEmbedder(source, backend=name)
              for name in backends}
    for model in models.values():
        model.encode(texts[:32])  # export, load and warm up outside the timing
    best = dict.fromkeys(models, 0.0)
    vectors: dict[str, np.ndarray] = {}
    loads = []
    for _ in range(args.rounds):
        for name, model in models.items():
            started = time.perf_counter()
            vectors[name] = model.encode(texts)
            best[name] = max(best[name], len(texts) / (time.perf_counter() - started))
        loads.append([round(value, 2) for value in os.getloadavg()])
    reference = vectors.get("torch")
    result = {"model": args.model, "n": len(texts), "rounds": args.rounds, "cores": available_cores(),
              "load_average_per_round": loads, "backends": {}}
    print(f"{args.model} · {len(texts)} CLINC150 texts · best of {args.rounds} rounds · load {loads}")
    print(f"{'backend':14} {'rows/s':>8} {'vs torch':>9} {'cos min':>8} {'cos mean':>9}")
    for name in models:
        cosine = (vectors[name] * reference).sum(axis=1) if reference is not None else np.ones(1)
        speedup = best[name] / best["torch"] if "torch" in best else float("nan")
        result["backends"][name] = {"rows_per_second": round(best[name], 1), "speedup": round(speedup, 2),
                                    "cosine_min": round(float(cosine.min()), 4),
                                    "cosine_mean": round(float(cosine.mean()), 5)}
        print(f"{name:14} {best[name]:8.1f} {speedup:8.2f}x {cosine.min():8.4f} {cosine.mean():9.5f}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
