"""What makes ERASMO's fine-tuning change the clustering: one training recipe, scored after every epoch under many
ways of reading a row's vector out of the model (layer x pooling x rescaling x clause orders).

    OMP_NUM_THREADS=1 python scripts/erasmo_sweep.py penguins --name lora-qv --epochs 3 --set lr=5e-4
    OMP_NUM_THREADS=1 python scripts/erasmo_sweep.py penguins --name full --epochs 2 --set lora=false --set lr=5e-5

Each line of bench_results/erasmo-sweep-DATASET.jsonl is one (recipe, epoch, view) scored by k-means at the true k
over the benchmark seeds; epoch 0 is the model before fine-tuning. The README's ERASMO section summarises them.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.__main__ import parse_pairs  # noqa: E402
from core.bench import DEFAULT_SEEDS, score_over_seeds  # noqa: E402
from core.data.benchmarks import load_benchmark  # noqa: E402
from core.embed.causal_lm import embed_views, postprocess_embeddings  # noqa: E402
from core.embed.tabular import table_features  # noqa: E402
from core.methods.erasmo import ERASMO, ERASMOParams  # noqa: E402
from core.settings import parse_text_settings  # noqa: E402

LAYERS = (6, 12, 18, 24, -1)
POOLINGS = ("mean", "values", "predictive", "last")
RESCALING = ("standardize", "none")


def score(vectors: np.ndarray, truth: np.ndarray, k: int) -> dict[str, float]:
    metrics, _ = score_over_seeds(vectors, truth, k=k, kind="table", reduce="none", seeds=DEFAULT_SEEDS)
    return {name: values[0] for name, values in metrics.items()}


def views_of(estimator: ERASMO, frame, permutations: int) -> dict[tuple[int, str], np.ndarray]:
    """Every (layer, pooling) view, averaged over `permutations` seeded clause orders (1 = the fixed order)."""
    orders = [None] if permutations <= 1 else [1000 + i for i in range(permutations)]
    summed: dict[tuple[int, str], np.ndarray] = {}
    for order in orders:
        rows = estimator.encode(frame, order=order)
        views = embed_views(estimator.model_, estimator.tokenizer_, [row.text for row in rows],
                            [(layer, pooling) for layer in LAYERS for pooling in POOLINGS],
                            value_spans=[row.value_spans for row in rows], batch_size=16,
                            max_length=estimator.max_length)
        for view, vectors in views.items():
            summed[view] = summed.get(view, 0) + vectors / len(orders)
    return summed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--name", required=True, help="the recipe's name in the results")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--permutations", type=int, default=1)
    parser.add_argument("--skip-untuned", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    settings = parse_text_settings(ERASMOParams, parse_pairs(args.set))
    data = load_benchmark(args.dataset)
    truth = np.asarray(data.labels())
    k = len(np.unique(truth))
    out = Path(__file__).resolve().parents[1] / "bench_results" / f"erasmo-sweep-{args.dataset}.jsonl"
    out.parent.mkdir(exist_ok=True)
    checkpoint = tempfile.mkdtemp(prefix="erasmo-sweep-")

    def record(epoch: int, view: str, metrics: dict[str, float], extra: dict | None = None) -> None:
        line = {"dataset": args.dataset, "recipe": args.name, "settings": settings, "epoch": epoch, "view": view,
                "permutations": args.permutations, **(extra or {}), **metrics}
        with out.open("a") as handle:
            handle.write(json.dumps(line) + "\n")

    raw = table_features(data.frame, data.columns_with("numeric"), data.columns_with("categorical"))
    record(0, "raw_features", score(raw, truth, k))
    for epoch in range(0 if not args.skip_untuned else 1, args.epochs + 1):
        started = time.perf_counter()
        estimator = ERASMO(**{**settings, "epochs": epoch}, checkpoint_dir=checkpoint if epoch else None,
                           seed=settings.get("seed", 0))
        estimator.fit(data.frame, data.feature_columns)
        trained = time.perf_counter() - started
        views = views_of(estimator, data.frame, args.permutations)
        loss = estimator.history_["epoch"][-1] if estimator.history_["epoch"] else None
        best = (0.0, "")
        for (layer, pooling), vectors in views.items():
            for rescale in RESCALING:
                metrics = score(postprocess_embeddings(vectors, rescale), truth, k)
                name = f"layer{layer}/{pooling}/{rescale}"
                record(epoch, name, metrics, {"loss": loss, "train_seconds": round(trained, 1)})
                best = max(best, (metrics["nmi"], name))
        default = score(postprocess_embeddings(views[(-1, "mean")], "standardize"), truth, k)["nmi"]
        print(f"{args.name} epoch {epoch}: loss {loss}, default view NMI {default:.1f}, best {best[1]} "
              f"NMI {best[0]:.1f} ({trained:.0f} s training)", flush=True)


if __name__ == "__main__":
    main()
