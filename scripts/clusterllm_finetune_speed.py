"""How long a 1024-triplet fine-tune of the base embedder takes on this machine (the issue's 5-minute target).

    python scripts/clusterllm_finetune_speed.py                    # MiniLM, Bank77 train, the default settings
    python scripts/clusterllm_finetune_speed.py --triplets 1024 --epochs 2 --batch-size 16

Triplets are sampled by entropy from the base embeddings of Bank77's train split and answered by the labels until
`--triplets` are decided (the fine-tune then sees exactly that many), so the timing covers training alone: no judge,
no embedding. Prints one JSON line with the seconds, the steps and the device.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.benchmarks import load_benchmark  # noqa: E402
from core.device import resolve_device  # noqa: E402
from core.embed.registry import resolve_embedder  # noqa: E402
from core.llm import OracleJudge  # noqa: E402
from core.embed.encoders import trainable_model  # noqa: E402
from core.methods.clusterllm import ClusterLLMSettings  # noqa: E402
from core.methods.clusterllm.sampling import triplets_by_entropy  # noqa: E402
from core.methods.clusterllm.objective import TripletFineTuner  # noqa: E402


def decided_triplets(texts: list[str], labels: list[object], vectors: np.ndarray, wanted: int,
                     seed: int) -> list[tuple[str, str, str]]:
    """`wanted` (anchor, positive, negative) texts: entropy-sampled triplets the labels can decide."""
    judge = OracleJudge(texts, labels)
    sampled = triplets_by_entropy(vectors, 8 * wanted, seed=seed)
    found = []
    for a, b, c in sampled:
        choice = judge.answer_triplet(texts[a], texts[b], texts[c]).choice
        if choice:
            positive, negative = (b, c) if choice == 1 else (c, b)
            found.append((texts[a], texts[positive], texts[negative]))
        if len(found) == wanted:
            break
    return found


def main() -> None:
    defaults = ClusterLLMSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default=defaults.embedder)
    parser.add_argument("--triplets", type=int, default=defaults.n_triplets)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device = resolve_device("auto")
    data = load_benchmark("bank77", split="train")
    texts, labels = data.texts(), data.labels()
    embedder = resolve_embedder(args.embedder, device=device)
    triplets = decided_triplets(texts, labels, np.asarray(embedder.encode(texts)), args.triplets, args.seed)
    model = trainable_model(embedder)
    model.to(device)
    started = time.perf_counter()
    tuner = TripletFineTuner(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                             device=device).fit(model, triplets)
    seconds = time.perf_counter() - started
    steps = args.epochs * -(-len(triplets) // args.batch_size)
    print(json.dumps({"embedder": args.embedder, "triplets": len(triplets), "epochs": args.epochs,
                      "batch_size": args.batch_size, "steps": steps, "seconds": round(seconds, 1),
                      "seconds_per_step": round(seconds / steps, 2), "device": device,
                      "torch_threads": torch.get_num_threads(), "loss": tuner.history_}))


if __name__ == "__main__":
    main()
