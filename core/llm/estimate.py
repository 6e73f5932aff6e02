"""What a ClusterLLM run will ask its judge and roughly what that costs, shown before the run starts.

Counts are upper bounds (sampling may find fewer new triplets, and questions already in the answer store are not paid
again); tokens are estimated at four characters a token; prices come from litellm's bundled price list.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from core.llm.prompts import PromptTemplate

CHARS_PER_TOKEN = 4
ANSWER_TOKENS = 3  # "Choice 1" / "Yes"


@dataclass(frozen=True)
class QueryEstimate:
    """Questions a run may ask, their approximate tokens, and the price (None when the model has no known price)."""

    triplets: int
    pairs: int
    tokens: int
    cost: float | None
    paid: bool
    names: int = 0

    @property
    def queries(self) -> int:
        return self.triplets + self.pairs + self.names

    def describe(self) -> str:
        """One line for the Run page (or the namer): how many questions, and what they cost."""
        if not self.queries:
            return "Nothing is asked of an LLM, so nothing is paid."
        asked = (f"{self.names:,} naming questions" if self.names and not self.triplets + self.pairs else
                 f"{self.triplets:,} triplet and {self.pairs:,} pair questions")
        count = f"Up to {asked} (~{self.tokens:,} tokens)"
        if not self.paid:
            return f"{count}; this judge is free (no API calls)."
        if self.cost is None:
            return f"{count}; litellm has no price for this model (a local server costs nothing)."
        return f"{count}; estimated cost ${self.cost:,.2f} at the model's list price."


def estimate_queries(judge: str, template: PromptTemplate, texts: Sequence[str], *, n_triplets: int,
                     iterations: int, pairs_per_step: int, k_max: int, tree_max_leaves: int) -> QueryEstimate:
    """Upper bound on a run's questions: `n_triplets` per iteration, and `pairs_per_step` per merge step for
    k = 2..k_max of a tree over at most `tree_max_leaves` leaves; priced when `judge` is "litellm:<model>"."""
    leaves = min(len(texts), tree_max_leaves)
    triplets = max(n_triplets, 0) * max(iterations, 0)
    pairs = max(pairs_per_step, 0) * max(min(k_max, leaves) - 1, 0)
    mean_chars = sum(len(text) for text in texts) / max(len(texts), 1)
    triplet_tokens = _tokens(len(template.triplet_prompt("", "", "")) + 3 * mean_chars)
    pair_tokens = _tokens(len(template.pair_prompt("", "")) + 2 * mean_chars)
    prompt_tokens = triplets * triplet_tokens + pairs * pair_tokens
    answer_tokens = (triplets + pairs) * ANSWER_TOKENS
    kind, _, model = judge.partition(":")
    if kind != "litellm":
        return QueryEstimate(triplets, pairs, prompt_tokens + answer_tokens, 0.0, paid=False)
    prices = model_prices(model)
    cost = None if prices is None else prompt_tokens * prices[0] + answer_tokens * prices[1]
    return QueryEstimate(triplets, pairs, prompt_tokens + answer_tokens, cost, paid=True)


def _tokens(chars: float) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def model_prices(model: str) -> tuple[float, float] | None:
    """(input, output) USD per token from litellm's bundled price list; None for unknown or unpriced models."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    try:
        info = litellm.get_model_info(model)
    except Exception:  # litellm raises several error types for models it does not know
        return None
    prompt, answer = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if not prompt and not answer:
        return None
    return float(prompt or 0.0), float(answer or 0.0)
