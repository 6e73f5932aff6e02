"""The query and cost estimate shown before a ClusterLLM run."""
from __future__ import annotations

import pytest

from core.llm import PromptTemplate
from core.llm.estimate import estimate_queries
from core.methods.clusterllm import ClusterLLMSettings

TEXTS = ["my card has not arrived yet", "how do I top up by bank transfer", "why was I charged a fee"] * 40


def test_counts_follow_the_settings():
    estimate = estimate_queries("embedding", PromptTemplate(), TEXTS, n_triplets=100, iterations=2, pairs_per_step=3,
                                k_max=50, tree_max_leaves=500)
    assert (estimate.triplets, estimate.pairs) == (200, 3 * 49)
    assert not estimate.paid and estimate.cost == 0.0
    assert "free" in estimate.describe()


def test_pairs_are_bounded_by_the_tree_leaves():
    few = estimate_queries("oracle", PromptTemplate(), TEXTS[:10], n_triplets=5, iterations=1, pairs_per_step=1,
                           k_max=200, tree_max_leaves=500)
    assert few.pairs == 9  # a tree over 10 rows merges 9 times


def test_a_priced_model_is_costed_from_litellms_price_list():
    import litellm

    prices = litellm.get_model_info("gpt-4o-mini")
    estimate = estimate_queries("litellm:gpt-4o-mini", PromptTemplate(), TEXTS, n_triplets=1024, iterations=1,
                                pairs_per_step=3, k_max=200, tree_max_leaves=500)
    assert estimate.paid and estimate.queries == 1024 + 3 * 119
    cheapest = estimate.tokens * min(prices["input_cost_per_token"], prices["output_cost_per_token"])
    dearest = estimate.tokens * max(prices["input_cost_per_token"], prices["output_cost_per_token"])
    assert cheapest < estimate.cost < dearest
    assert f"${estimate.cost:,.2f}" in estimate.describe()


def test_longer_texts_and_prompts_cost_more():
    template = PromptTemplate()
    short = estimate_queries("litellm:gpt-4o-mini", template, TEXTS, n_triplets=100, iterations=1, pairs_per_step=1,
                             k_max=20, tree_max_leaves=500)
    long = estimate_queries("litellm:gpt-4o-mini", template, [text * 5 for text in TEXTS], n_triplets=100,
                            iterations=1, pairs_per_step=1, k_max=20, tree_max_leaves=500)
    assert long.tokens > 1.5 * short.tokens and long.cost > short.cost


def test_an_unpriced_model_says_so():
    estimate = estimate_queries("litellm:openai/my-local-model", PromptTemplate(), TEXTS, n_triplets=10,
                                iterations=1, pairs_per_step=1, k_max=5, tree_max_leaves=500)
    assert estimate.paid and estimate.cost is None
    assert "no price" in estimate.describe()


def test_settings_estimate_uses_the_edited_prompts():
    plain = ClusterLLMSettings(judge="litellm:gpt-4o-mini").estimate(TEXTS)
    wordy = ClusterLLMSettings(judge="litellm:gpt-4o-mini",
                               pair_examples="Sentence 1: a\nSentence 2: b\nAnswer: Yes\n" * 20).estimate(TEXTS)
    assert wordy.triplets == plain.triplets and wordy.tokens > plain.tokens


def test_edited_prompts_get_a_new_version():
    settings = ClusterLLMSettings()
    edited = ClusterLLMSettings(triplet_prompt=settings.triplet_prompt.replace("Select", "Pick"))
    assert settings.template().version != edited.template().version
    with pytest.raises(Exception, match="missing"):
        ClusterLLMSettings(triplet_prompt="Which is closer to {query}?").template()
