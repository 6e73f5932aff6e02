"""ClusterLLM as a run method: the judge from a settings string, its answers in the judgment store, checkpoints and
the fine-tuned model in the run folder; fine-tuned embeddings, the base ones as comparison, the judge's choice of k."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from core.data.dataset import Dataset
from core.errors import SettingsError
from core.llm import Budget, CachingJudge, OracleJudge, judge_from_spec
from core.llm.estimate import QueryEstimate
from core.methods.base import Method, Representation, RunContext
from core.methods.costs import LOAD_SECONDS, cluster_seconds, embed_seconds, train_seconds
from core.methods.clusterllm.estimator import ClusterLLM
from core.methods.clusterllm.settings import ClusterLLMParams, ClusterLLMSettings
from core.settings import values_of

CHECKPOINT_FOLDER = "clusterllm"
LLM_SECONDS_PER_QUESTION = 1.0
"""A hosted LLM's answer to one short question, with a few asked at once."""
MODEL_FOLDER = "finetuned-model"


class ClusterLLMMethod(Method):
    """ClusterLLM as a run method: fine-tuned embeddings, the base ones as comparison, and the judge's choice of k."""

    name: ClassVar[str] = "clusterllm"
    label: ClassVar[str] = "ClusterLLM"
    title: ClassVar[str] = "ClusterLLM (judge-guided fine-tuning + granularity)"
    summary: ClassVar[str] = ("A judge (an LLM, an offline model or you) answers 'which of these two is closer?' to "
                              "fine-tune the embedder, and 'same topic?' to pick the number of clusters.")
    kinds: ClassVar[tuple[str, ...]] = ("text",)
    settings_type: ClassVar[type] = ClusterLLMSettings
    comparison_titles: ClassVar[dict[str, str]] = {"base": "the embedder before fine-tuning"}

    def represent(self, data: Dataset, settings: ClusterLLMSettings, context: RunContext) -> Representation:
        texts, labels = data.texts(), data.labels()
        if context.judgments is None:
            raise SettingsError("ClusterLLM needs an answer store to keep the judge's answers; the runner gives one.")
        store = context.judgments
        run = context.directory.run_id
        inner = judge_from_spec(settings.judge, template=settings.template(), texts=texts, labels=labels,
                                embedders=context.embedders, api_base=settings.api_base,
                                pair_threshold=settings.judge_pair_threshold, min_margin=settings.judge_margin,
                                neighbours=settings.judge_neighbours)
        judge = CachingJudge(inner, store, run, budget=Budget(settings.max_queries, settings.max_cost),
                             prefer_person=settings.reviewed_answers, should_stop=context.should_stop)
        context.report("embed", 0.0, f"Loading {settings.embedder}")
        params = values_of(settings, ClusterLLMParams)
        if context.k_range is not None:  # no pair question about a k the analyst ruled out
            params["k_max"] = max(2, min(settings.k_max, context.k_range[1]))
        model = ClusterLLM(
            **params, embedder=context.embedders(settings.embedder), judge=judge,
            device=context.device, checkpoint_dir=context.directory.file(CHECKPOINT_FOLDER),
            model_dir=context.directory.file(MODEL_FOLDER), progress=context.report, should_stop=context.should_stop,
        ).fit(texts)
        details: dict[str, Any] = {
            "judge": inner.name, "prompt_version": inner.prompt_version,
            "queries": {"triplet": len(model.triplets_), "pair": len(model.pairs_)},
            "decided": {"triplet": int((model.triplet_answers_ > 0).sum()),
                        "pair": int((model.pair_answers_ >= 0).sum())},
            "spent": store.spent(run), "loss_curve": model.history_,
            "k_curve": model.k_curve_, "k_predicted": model.n_clusters_,
            "seconds": {name: round(value, 2) for name, value in model.seconds_.items()},
        }
        if labels is not None:
            details["judge_label_agreement"] = label_agreement(model, texts, labels)
        return Representation(model.embeddings_, comparisons={"base": model.base_embeddings_},
                              suggested_k=model.n_clusters_, details=details, k_scores=model.k_curve_ or None)

    def bench_fields(self, representation: Representation, comparisons: dict[str, Any],
                     k_true: int) -> dict[str, Any]:
        """The benchmark JSON's ClusterLLM keys: metrics before fine-tuning, true vs predicted k, queries, agreement."""
        details = representation.details
        return {"base_metrics": comparisons.get("base"), "k_true": k_true, "k_predicted": representation.suggested_k,
                "queries": details["queries"], "decided": details["decided"], "judge": details["judge"],
                "judge_label_agreement": details.get("judge_label_agreement")}

    def estimate_questions(self, data: Dataset, settings: ClusterLLMSettings) -> QueryEstimate:
        return settings.estimate(data.texts())

    def estimate_seconds(self, data: Dataset, settings: ClusterLLMSettings, device: str) -> float:
        """Embedding the rows before and after each round, the fine-tuning, the judge's answers and the tail."""
        rows = len(data.frame)
        rounds = max(settings.iterations, 0)
        questions = settings.estimate(data.texts()).queries
        judge_kind = settings.judge.partition(":")[0]
        judging = {"embedding": embed_seconds(rows, "mpnet", device), "oracle": 0.0}.get(
            judge_kind, questions * LLM_SECONDS_PER_QUESTION)
        return (LOAD_SECONDS + (rounds + 1) * embed_seconds(rows, settings.embedder, device) + judging
                + rounds * train_seconds(settings.n_triplets * settings.epochs, settings.embedder, device)
                + cluster_seconds(rows))


def label_agreement(model: ClusterLLM, texts: list[str], labels: Sequence[object]) -> dict[str, float | None]:
    """Share of the judge's decided answers that the labels confirm (triplets the labels can decide; all pairs)."""
    oracle = OracleJudge(texts, labels)
    truth = np.array([oracle.answer_triplet(texts[a], texts[b], texts[c]).choice or 0 for a, b, c in model.triplets_])
    usable = (truth > 0) & (model.triplet_answers_ > 0)
    same = np.array([labels[a] == labels[b] for a, b in model.pairs_], dtype=bool)
    decided = model.pair_answers_ >= 0
    return {
        "triplet": float((truth[usable] == model.triplet_answers_[usable]).mean()) if usable.any() else None,
        "pair": float((same[decided] == (model.pair_answers_[decided] == 1)).mean()) if decided.any() else None,
    }
