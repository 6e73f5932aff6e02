"""Where do the offline judge's wrong answers come from? Each rule's answers to ClusterLLM's entropy-sampled triplets
(from MiniLM, as in round 1), split by what the labels say of the text it chose as closer to the anchor:

- good: the chosen text shares the anchor's label and the other does not (what the oracle would answer),
- wrong: the other one shares it (the ranking is wrong),
- neither: no choice shares it; the oracle leaves these undecided, a forced answer pulls the anchor to another label,
- both: both share it.

    python scripts/clusterllm_judge_errors.py --split train --out bench_results/clusterllm-judge-errors-train.json

Rules: MPNet cosine (the embedding judge) at several margins, MiniLM cosine (the student), MPNet's 5-d UMAP, and the
neighbourhood check of the judge's `judge_neighbours` (the chosen text among the anchor's N nearest, more shared
nearest neighbours with it than with the other).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.cluster import UMAPReducer  # noqa: E402
from core.data.benchmarks import load_benchmark  # noqa: E402
from core.embed.registry import resolve_embedder  # noqa: E402
from core.methods.clusterllm.sampling import triplets_by_entropy  # noqa: E402


def cosine_gap(X: np.ndarray, t: np.ndarray) -> np.ndarray:
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    return (X[t[:, 0]] * X[t[:, 1]]).sum(1) - (X[t[:, 0]] * X[t[:, 2]]).sum(1)


def distance_gap(Z: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.linalg.norm(Z[t[:, 0]] - Z[t[:, 2]], axis=1) - np.linalg.norm(Z[t[:, 0]] - Z[t[:, 1]], axis=1)


def neighbourhoods(X: np.ndarray, k: int) -> list[set[int]]:
    """Each row's k nearest rows by cosine, itself included (as the judge builds them)."""
    from sklearn.neighbors import NearestNeighbors

    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    nearest = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)
    return [set(row.tolist()) for row in nearest]


def neighbourhood_agrees(near: list[set[int]], t: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """The judge's check: the chosen row is among the anchor's neighbours and shares more of them than the other."""
    chosen, other = np.where(choice == 1, t[:, 1], t[:, 2]), np.where(choice == 1, t[:, 2], t[:, 1])
    return np.array([c in near[a] and len(near[a] & near[c]) > len(near[a] & near[o])
                     for a, c, o in zip(t[:, 0], chosen, other)])


def breakdown(truth: np.ndarray, t: np.ndarray, choice: np.ndarray) -> dict[str, float | int]:
    """Answered count and the shares of good / wrong / neither / both among the answered (choice 1 or 2)."""
    answered = choice > 0
    t, choice = t[answered], choice[answered]
    anchor = truth[t[:, 0]]
    chosen = truth[np.where(choice == 1, t[:, 1], t[:, 2])] == anchor
    other = truth[np.where(choice == 1, t[:, 2], t[:, 1])] == anchor
    n = max(len(t), 1)
    share = {"good": chosen & ~other, "wrong": other & ~chosen, "neither": ~chosen & ~other, "both": chosen & other}
    return {"answered": int(answered.sum()), **{name: round(float(mask.sum() / n), 3) for name, mask in share.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="bank77")
    parser.add_argument("--split", default="train")
    parser.add_argument("--sample", type=int, default=3080)
    parser.add_argument("--triplets", type=int, default=4096)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data = load_benchmark(args.dataset, split=args.split).sampled(args.sample)
    texts, truth = data.texts(), np.asarray(data.labels())
    minilm, mpnet = (np.asarray(resolve_embedder(name).encode(texts)) for name in ("minilm", "mpnet"))
    t = triplets_by_entropy(minilm, args.triplets, seed=0)
    gap = cosine_gap(mpnet, t)
    choice = np.where(gap > 0, 1, 2)
    rules = {"mpnet cosine": choice, "minilm cosine (the student)": np.where(cosine_gap(minilm, t) > 0, 1, 2),
             "mpnet 5-d umap": np.where(distance_gap(UMAPReducer(n_components=5, seed=0).fit_transform(mpnet), t) > 0,
                                        1, 2)}
    for margin in (0.05, 0.1, 0.2):
        rules[f"mpnet cosine, margin {margin}"] = np.where(np.abs(gap) >= margin, choice, 0)
    for k in (10, 20, 50):
        agrees = neighbourhood_agrees(neighbourhoods(mpnet, k), t, choice)
        for margin in (0.05, 0.1):
            rules[f"mpnet cosine, margin {margin}, {k} neighbours agree"] = np.where(
                (np.abs(gap) >= margin) & agrees, choice, 0)
    found = {name: breakdown(truth, t, answer) for name, answer in rules.items()}
    width = max(map(len, found))
    print(f"{args.dataset} {args.split}: {len(t)} triplets, shares of the answered ones")
    for name, row in found.items():
        print(f"{name:<{width}}  answered {row['answered']:5d}  good {row['good']:.3f}  wrong {row['wrong']:.3f}  "
              f"neither {row['neither']:.3f}  both {row['both']:.3f}")
    if args.out:
        args.out.write_text(json.dumps({"dataset": args.dataset, "split": args.split, "sample": args.sample,
                                        "triplets": len(t), "rules": found}, indent=2) + "\n")


if __name__ == "__main__":
    main()
