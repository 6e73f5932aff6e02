"""How steady is the oracle's choice of k? The paper's F-β and the weighted one over the base MiniLM's Ward tree,
with the labels answering every pair question, for a few seeds (the tree's MiniBatchKMeans leaves and the pairs drawn
at each merge change with the seed). Beside them, the k whose cut has the best exact pairwise F-β against the labels
(every row pair counted): what a perfect estimate would choose on that tree. Train/val splits only: this chooses a
default.

    python scripts/clusterllm_granularity.py --seeds 0,1,2
    python scripts/clusterllm_granularity.py --seeds 0,1,2,3,4 --per-step 3,5 --rules weighted
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics.cluster import contingency_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.cluster.hierarchy import ClusterTree  # noqa: E402
from core.data.benchmarks import load_benchmark  # noqa: E402
from core.embed.registry import resolve_embedder  # noqa: E402
from core.methods.clusterllm.sampling import f_beta_curve, granularity_pairs, merge_mass  # noqa: E402
from core.methods.clusterllm.settings import ClusterLLMParams, TREE_MAX_LEAVES  # noqa: E402

SPLITS = (("bank77", "train"), ("clinc150-intent", "val"), ("clinc150-domain", "val"))


def pairs_within(counts: np.ndarray) -> float:
    """How many row pairs share a cell, given the rows per cell."""
    return float((counts * (counts - 1) / 2).sum())


def exact_pair_f_beta(truth: np.ndarray, predicted: np.ndarray, beta: float) -> float:
    """Pairwise F-β of a partition against the labels over all row pairs ("same cluster" against "same label")."""
    table = contingency_matrix(truth, predicted)
    together = pairs_within(table)
    predicted_together, truly_together = pairs_within(table.sum(0)), pairs_within(table.sum(1))
    if not together:
        return 0.0
    precision, recall = together / predicted_together, together / truly_together
    return (1 + beta ** 2) * precision * recall / (beta ** 2 * precision + recall)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--sample", type=int, default=3080, help="rows of Bank77's train split, as the defaults used")
    parser.add_argument("--per-step", default=None, help="pair questions per merge (λ) to compare, e.g. 3,5")
    parser.add_argument("--rules", default="paper,weighted")
    args = parser.parse_args()
    params = ClusterLLMParams()
    per_steps = [int(p) for p in args.per_step.split(",")] if args.per_step else [params.pairs_per_step]
    ks = np.arange(2, params.k_max + 1)
    for name, split in SPLITS:
        data = load_benchmark(name, split=split)
        data = data.sampled(args.sample) if name == "bank77" else data
        truth = np.asarray(data.labels())
        X = np.asarray(resolve_embedder("minilm").encode(data.texts()))
        for seed in (int(s) for s in args.seeds.split(",")):
            tree = ClusterTree(max_leaves=TREE_MAX_LEAVES, linkage="ward", seed=seed).fit(X)
            found = []
            for rule, per_step in ((r, p) for r in args.rules.split(",") for p in per_steps):
                weighted = rule == "weighted"
                pairs, steps = granularity_pairs(tree, params.k_max, per_step, seed=seed, by_mass=weighted)
                same = truth[pairs[:, 0]] == truth[pairs[:, 1]]
                curve = f_beta_curve(steps, same, ks, params.beta,
                                     mass=merge_mass(tree, params.k_max) if weighted else None)
                found.append(f"{rule} λ={per_step} k = {ks[int(np.argmax(curve))]} ({len(pairs)} pairs)")
            exact = [exact_pair_f_beta(truth, tree.cut(int(k)), params.beta) for k in ks]
            found.append(f"exact k = {ks[int(np.argmax(exact))]} (F-β {max(exact):.3f})")
            print(f"{name} {split} (true k = {len(np.unique(truth))}), seed {seed}: " + "; ".join(found), flush=True)


if __name__ == "__main__":
    main()
