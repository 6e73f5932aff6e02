"""Which offline judge rule makes ClusterLLM's answers help? A quick stand-in for the fine-tune: each rule answers the
same 2,048 entropy-sampled triplets (from MiniLM), the person loop's residual linear map on frozen MiniLM learns from
the answers, and k-means at the true k scores the result (ACC, 3 seeds, 3 restarts each). Choose on --split train;
the test split is for the reported row only.

    python scripts/clusterllm_offline_rules.py --split train
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.benchmarks import load_benchmark  # noqa: E402
from core.embed.registry import resolve_embedder  # noqa: E402
from core.methods.clusterllm.person import adapt, answered_triplets, train_adapter  # noqa: E402
from core.methods.clusterllm.person_bench import SimulatedPerson  # noqa: E402
from core.methods.clusterllm.sampling import triplets_by_entropy  # noqa: E402
from core.metrics import clustering_accuracy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clusterllm_judge_errors import cosine_gap, neighbourhood_agrees, neighbourhoods  # noqa: E402

SEEDS = (100, 13, 21)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="bank77")
    parser.add_argument("--split", default="train")
    parser.add_argument("--sample", type=int, default=3080)
    parser.add_argument("--triplets", type=int, default=2048, help="2 rounds of 1,024, all from the base model")
    args = parser.parse_args()
    from sklearn.cluster import KMeans

    data = load_benchmark(args.dataset, split=args.split).sampled(args.sample)
    texts, truth = data.texts(), np.unique(np.asarray(data.labels()), return_inverse=True)[1]
    minilm, mpnet = (np.asarray(resolve_embedder(name).encode(texts)) for name in ("minilm", "mpnet"))
    k = int(truth.max()) + 1
    t = triplets_by_entropy(minilm, 2 * args.triplets, seed=0)[:args.triplets]
    gap = cosine_gap(mpnet, t)
    choice = np.where(gap > 0, 1, 2)
    near = neighbourhoods(mpnet, 20)
    chosen_is_near = np.array([c in near[a] for a, c in zip(t[:, 0], np.where(choice == 1, t[:, 1], t[:, 2]))])
    rules = {"oracle": SimulatedPerson(truth).answer(t),
             "mpnet, margin 0.1 (old default)": np.where(np.abs(gap) >= 0.1, choice, 0),
             "mpnet, margin 0.1, chosen in the 20-NN": np.where((np.abs(gap) >= 0.1) & chosen_is_near, choice, 0),
             "mpnet, margin 0.05, 20 neighbours agree (default)": np.where(
                 (np.abs(gap) >= 0.05) & neighbourhood_agrees(near, t, choice), choice, 0)}

    def acc(X: np.ndarray) -> str:
        found = [100 * clustering_accuracy(truth, KMeans(k, n_init=3, random_state=s).fit_predict(X)) for s in SEEDS]
        return f"ACC {np.mean(found):6.2f} ± {np.std(found):4.2f}"

    print(f"{args.dataset} {args.split}: base MiniLM {acc(minilm)}; MPNet {acc(mpnet)}", flush=True)
    for name, answers in rules.items():
        train = answered_triplets(t, answers)
        print(f"{name} [{len(train)} answers]: {acc(adapt(minilm, train_adapter(minilm, train, seed=0)))}", flush=True)


if __name__ == "__main__":
    main()
