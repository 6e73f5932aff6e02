"""bench-person: is a person's half hour worth more than an LLM's thousands of answers? A seeded simulated person
answers the loop's questions from the labels; the clustering is scored after 50, 100, 200, 400 answers, beside the same
number of answers to entropy-sampled and to random triplets (asked at once from the base embeddings, as in the
paper). Scores are the bench's: k-means at the true k over the seeds, [mean, std] on a 0-100 scale.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.data.dataset import Dataset
from core.methods.clusterllm.person import STRATEGIES, PersonLoop, adapt, answered_triplets, train_adapter
from core.pipeline import score_over_seeds
from core.progress import ProgressFn, no_progress
from core.settings import ClusteringSettings

BENCH_SEEDS = (100, 13, 21, 36, 42)
LOOP_N_INIT = 3  # k-means restarts of the clustering the loop asks its next questions from
ONE_SHOT_SHARE = 100  # questions drawn at once per answer wanted (random ones: a person can decide ~1 in 40 on Bank77)


@dataclass
class SimulatedPerson:
    """Answers a triplet as a person reading it would, with the labels as what the person understands: the choice
    that shares the anchor's label, 0 ("cannot tell") when both or neither do. `error_rate` flips that share of the
    decided answers (seeded), for a person who sometimes misreads."""

    truth: np.ndarray
    error_rate: float = 0.0
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.truth = np.asarray(self.truth)
        self._rng = np.random.default_rng(self.seed)

    def answer(self, triplets: np.ndarray) -> np.ndarray:
        t = np.asarray(triplets, dtype=np.int64).reshape(-1, 3)
        first, second = (self.truth[t[:, i]] == self.truth[t[:, 0]] for i in (1, 2))
        choices = np.where(first & ~second, 1, np.where(second & ~first, 2, 0))
        slips = (choices > 0) & (self._rng.random(len(choices)) < self.error_rate)
        return np.where(slips, 3 - choices, choices)


def bench_person(data: Dataset, embeddings: np.ndarray, *, answers: Sequence[int] = (50, 100, 200, 400),
                 reduce: str = "umap", seeds: Sequence[int] = BENCH_SEEDS, batch_size: int = 25,
                 strategies: Sequence[str] = STRATEGIES, error_rate: float = 0.0, dataset: str | None = None,
                 progress: ProgressFn = no_progress) -> dict[str, Any]:
    """The bench-person JSON: {"dataset", "base", "answers": {"50": {"informative", "entropy", "random"}, ...},
    "seconds"} plus how many questions each budget took (`asked`, skips included) and the settings."""
    started = time.perf_counter()
    truth = np.asarray(data.labels())
    k = int(len(np.unique(truth)))
    budgets = sorted({int(n) for n in answers if int(n) > 0})
    clustering = ClusteringSettings(n_clusters=k, reduce=reduce, n_init=LOOP_N_INIT, seed=seeds[0])

    def score(vectors: np.ndarray) -> dict[str, list[float]]:
        return score_over_seeds(vectors, truth, k=k, kind="text", reduce=reduce, seeds=seeds)[0]

    progress("base", 0.0, "Scoring the base embeddings")
    result: dict[str, Any] = {"dataset": dataset or data.name, "n": len(truth), "k": k, "reduce": reduce,
                              "seeds": list(seeds), "batch_size": batch_size, "error_rate": error_rate,
                              "base": score(embeddings), "answers": {str(n): {} for n in budgets},
                              "asked": {str(n): {} for n in budgets}, "retrains": {}}
    for strategy in strategies:
        person = SimulatedPerson(truth, error_rate, seed=seeds[0])
        loop = PersonLoop(n_clusters=k, clustering=clustering, strategy=strategy, batch_size=batch_size,
                          seed=seeds[0]).fit(embeddings)
        if strategy == "informative":  # ask a batch, retrain, ask the next batch from the new clustering
            while loop.n_answered < budgets[-1]:
                progress(strategy, loop.n_answered / budgets[-1], f"{loop.n_answered} answers, {loop.rounds_} retrains")
                asked = loop.next_questions()
                if not len(asked):
                    break
                loop.add_answers(asked, person.answer(asked)).retrain()
            result["retrains"][strategy] = loop.rounds_
            asked, choices = loop.triplets_, loop.answers_
        else:  # asked at once, from the base embeddings
            asked = loop.next_questions(ONE_SHOT_SHARE * budgets[-1])
            choices = person.answer(asked)
        decided = np.cumsum(choices > 0)
        for n in budgets:  # the map learned from exactly the first n answers (a batch may overshoot the budget)
            progress(strategy, n / budgets[-1], f"Scoring after {n} answers")
            upto = min(int(np.searchsorted(decided, n) + 1), len(asked))
            W = train_adapter(loop.base_, answered_triplets(asked[:upto], choices[:upto]), epochs=loop.epochs,
                              lr=loop.lr, temperature=loop.temperature, seed=loop.seed)
            result["answers"][str(n)][strategy] = score(adapt(loop.base_, W))
            result["asked"][str(n)][strategy] = upto
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def format_bench_person(result: dict[str, Any]) -> str:
    """The bench-person result as a small table: ACC / NMI after each number of answers, per strategy."""
    def cell(metrics: dict[str, list[float]] | None) -> str:
        return f"{metrics['acc'][0]:6.2f} / {metrics['nmi'][0]:6.2f}" if metrics else ""

    strategies = list(next(iter(result["answers"].values()), {}))
    lines = [f"{result['dataset']} · n={result['n']} · k={result['k']} · reduce={result['reduce']} · ACC / NMI",
             f"{'answers':>8}  " + "  ".join(f"{s:>15}" for s in strategies),
             f"{0:>8}  {cell(result['base']):>15}"]
    for n, row in result["answers"].items():
        lines.append(f"{n:>8}  " + "  ".join(f"{cell(row.get(s)):>15}" for s in strategies))
    lines.append(f"seconds: {result['seconds']}")
    return "\n".join(lines)
