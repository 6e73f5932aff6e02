"""Judges for ClusterLLM's questions (litellm, embedding, oracle; a person via the review screen), prompts, and the
answer store. `judge_from_spec("litellm:openai/gpt-4o-mini")` builds one from a settings string."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from core.embed.base import Embedder
from core.errors import SettingsError
from core.llm.embedding_judge import DEFAULT_JUDGE_EMBEDDER, EmbeddingJudge
from core.llm.judges import Answer, Judge, JudgeUnavailableError, Pair, Triplet
from core.llm.litellm_judge import LiteLLMJudge, parse_pair_answer, parse_triplet_answer
from core.llm.oracle import OracleJudge
from core.llm.prompts import PromptTemplate
from core.llm.providers import Endpoint, Providers, current_providers, use_secrets
from core.llm.store import Budget, BudgetExhaustedError, CachingJudge, Judgment, JudgmentStore, question_hash

JUDGE_SPECS = ("embedding", "embedding:<model>", "oracle", "litellm:<model>")


def judge_from_spec(spec: str, *, template: PromptTemplate | None = None, texts: Sequence[str] | None = None,
                    labels: Sequence[object] | None = None, embedders: Callable[[str], Embedder] | None = None,
                    api_base: str | None = None, pair_threshold: float = 0.5,
                    min_margin: float = 0.0, neighbours: int = 0) -> Judge:
    """A judge from a settings string: "embedding" (MPNet cosine), "embedding:<embedder>", "oracle" (needs texts
    and labels) or "litellm:<model string>" (at an endpoint the operator allows; `api_base` may name one).
    The embedding judge checks its answers against `neighbours` nearest rows of `texts` (0: no check)."""
    kind, _, rest = spec.strip().partition(":")
    if kind == "embedding":
        return EmbeddingJudge(rest or DEFAULT_JUDGE_EMBEDDER, pair_threshold=pair_threshold, min_margin=min_margin,
                              corpus=texts, neighbours=neighbours, resolve=embedders)
    if kind == "oracle":
        if texts is None or labels is None:
            raise SettingsError("The oracle judge answers from labels: choose a label column, or pick another judge.")
        return OracleJudge(texts, labels)
    if kind == "litellm" and rest:
        return LiteLLMJudge(rest, template, api_base=api_base)
    raise SettingsError(f"Unknown judge {spec!r}. Use one of: {', '.join(JUDGE_SPECS)}.")


__all__ = ["Answer", "Judge", "JudgeUnavailableError", "Pair", "Triplet", "EmbeddingJudge", "LiteLLMJudge",
           "OracleJudge", "PromptTemplate", "Budget", "BudgetExhaustedError", "CachingJudge", "Judgment",
           "JudgmentStore", "question_hash", "judge_from_spec", "parse_pair_answer", "parse_triplet_answer",
           "JUDGE_SPECS", "Endpoint", "Providers", "current_providers", "use_secrets"]
