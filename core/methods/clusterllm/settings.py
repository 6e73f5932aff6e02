"""ClusterLLM's settings: the estimator's hyperparameters, and what a run adds (models, judge, prompts, budget).

Defaults are the paper's unless marked *ours*; ours were chosen on Bank77's train split with the oracle judge
(README): lr 1e-4 (the paper's 2e-6 barely moves MiniLM), batch 16, 2 epochs (a third overfits), 2 rounds of
sampling (the second, from the tuned model, adds ~6 ACC); granularity "weighted" (over the base MiniLM's Ward
trees the oracle's k lands within -22..+25% on Bank77 train and CLINC val, intents and domains, where the paper's F-β
swings from 9 to 38 for 10 domains with the seed); the offline judge's margin 0.05 and 20 neighbours (Bank77 train:
the rule that stops its answers from making clusters worse; bench_results/clusterllm-offline.md).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from core.embed.registry import DEFAULT_EMBEDDER, EMBEDDER_CHOICES
from core.llm.estimate import QueryEstimate, estimate_queries
from core.llm.prompts import PAIR_PROMPT, TRIPLET_PROMPT, PromptTemplate
from core.settings import option

WEIGHTED_PAIRS = 2  # the weighted granularity asks ~1.9x the paper's pair questions (Bank77 train, CLINC val)
TREE_MAX_LEAVES = 500  # the granularity tree's leaves: rows, or MiniBatchKMeans centres for larger sets
JUDGE_SUGGESTIONS = ("embedding", "oracle", "litellm:gpt-4o-mini", "litellm:ollama/llama3.1")
JUDGE_LABELS = {"embedding": "Offline: a stronger embedder's similarity (MPNet)",
                "oracle": "The label column (benchmarks only: a perfect judge)",
                "litellm:gpt-4o-mini": "OpenAI GPT-4o mini (needs the server's API key)",
                "litellm:ollama/llama3.1": "Llama 3.1 on the server's Ollama"}


@dataclass
class ClusterLLMParams:
    """What the estimator learns with: the triplet rounds, the fine-tuning, and the granularity search."""

    n_triplets: int = option(1024, "Triplet questions per round", "How many 'which is closer?' questions the judge "
                             "answers in each round (the paper's 1,024).", minimum=1)
    iterations: int = option(2, "Rounds", "Sample, ask, fine-tune; again from the fine-tuned model (*ours*: 2).",
                             minimum=1, maximum=10)
    sampling: Literal["entropy", "random"] = option(
        "entropy", "Which triplets to ask", choice_labels={"entropy": "the most ambiguous rows (the paper's)",
                                                           "random": "random rows"}, advanced=True)
    sampling_clusters: int = option(100, "Clusters for sampling", "Clusters the entropy of each row is measured over.",
                                    minimum=2, advanced=True)
    epochs: int = option(2, "Epochs per round", minimum=0, maximum=50, advanced=True)
    lr: float = option(1e-4, "Learning rate", minimum=1e-8, maximum=1.0, advanced=True)
    batch_size: int = option(16, "Batch size", minimum=1, maximum=1024, advanced=True)
    temperature: float = option(0.01, "InfoNCE temperature", minimum=1e-4, maximum=10.0, advanced=True, form=False)
    pairs_per_step: int = option(3, "Pair questions per merge (λ)", "Questions asked at every merge of the tree when "
                                 "choosing k (the paper's λ).", minimum=1, maximum=20, advanced=True)
    k_max: int = option(200, "Largest k the judge considers", minimum=2, advanced=True)
    granularity: Literal["weighted", "paper"] = option(
        "weighted", "How the pair answers choose k", "*ours*: each answer counts for the row pairs its merge joins, "
        "and coarse merges get more questions (lands near a coarse k such as 10 domains); the paper's: every merge "
        "asked λ times, every answer counts the same.",
        choice_labels={"weighted": "pairwise F-β over all row pairs (ours)", "paper": "the paper's F-β"},
        advanced=True)
    beta: float = option(0.92, "F-β weight (β)", minimum=0.01, maximum=10.0, advanced=True, form=False)
    seed: int = option(0, "Seed", advanced=True)


@dataclass
class ClusterLLMJudging:
    """The models and the judge a ClusterLLM run builds around the estimator.

    `judge`: "embedding" (MPNet cosine, offline), "embedding:<embedder>", "oracle" (the label column) or
    "litellm:<model>"; the embedding judge leaves a triplet undecided when its two cosines differ by less than
    `judge_margin` or its `judge_neighbours` nearest rows disagree, and calls a pair "same" at cosine >=
    `judge_pair_threshold`. `max_queries`/`max_cost` cap what the judge may be paid; `reviewed_answers` uses a
    person's reviews where given.
    """

    embedder: str = option(DEFAULT_EMBEDDER, "Embedding model to fine-tune", suggestions=EMBEDDER_CHOICES, flag=True)
    judge: str = option("embedding", "Judge", "Who answers the questions: an offline model, an LLM, or the labels.",
                        suggestions=JUDGE_SUGGESTIONS, choice_labels=JUDGE_LABELS, flag=True)
    judge_margin: float = option(0.05, "Offline judge: smallest similarity gap", "Below this gap between the two "
                                 "choices the offline judge leaves the question undecided.", minimum=0.0, maximum=2.0,
                                 advanced=True)
    judge_neighbours: int = option(20, "Offline judge: neighbours that must agree", "*ours*: the offline judge answers "
                                   "only when the chosen text is among the anchor's N nearest rows and shares more "
                                   "of them than the other choice does (0: cosine alone, which makes clusters worse).",
                                   minimum=0, maximum=200, advanced=True)
    judge_pair_threshold: float = option(0.5, "Offline judge: 'same' from similarity", minimum=-1.0, maximum=1.0,
                                         advanced=True)
    item_type: str = option("text", "What a row is", "Fills the prompts: 'customer message', 'news headline'...")
    aspect: str = option("topic", "What to cluster by", "Fills the prompts: 'topic', 'intent', 'emotion'...")
    max_queries: int | None = option(None, "Most questions to pay for", "Empty: no cap.", minimum=0, advanced=True,
                                     empty="no cap")
    max_cost: float | None = option(None, "Most to spend (USD)", "Empty: no cap.", minimum=0.0, advanced=True,
                                    empty="no cap")
    api_base: str | None = option(None, "LLM server address", form=False)
    reviewed_answers: bool = option(False, "Use my reviewed answers", "Answer every question a person reviewed "
                                    "with the person's answer.", advanced=True)
    triplet_prompt: str = option(TRIPLET_PROMPT, "Triplet prompt", long_text=True, advanced=True)
    pair_prompt: str = option(PAIR_PROMPT, "Pair prompt", long_text=True, advanced=True)
    pair_examples: str = option("", "Labelled examples before the pair question", long_text=True, advanced=True)

    def template(self) -> PromptTemplate:
        """The prompts for this data set (their version hash goes with every stored answer)."""
        return PromptTemplate(self.item_type, self.aspect, self.triplet_prompt, self.pair_prompt, self.pair_examples)


@dataclass
class ClusterLLMSettings(ClusterLLMParams, ClusterLLMJudging):
    """Everything a ClusterLLM run is started with (the judging fields come first on the form)."""

    def estimate(self, texts: Sequence[str]) -> QueryEstimate:
        """How many questions a run with these settings may ask about `texts`, and their estimated cost."""
        return estimate_queries(self.judge, self.template(), texts, n_triplets=self.n_triplets,
                                iterations=self.iterations, k_max=self.k_max,
                                pairs_per_step=self.pairs_per_step * (WEIGHTED_PAIRS if self.granularity == "weighted"
                                                                      else 1),
                                tree_max_leaves=TREE_MAX_LEAVES)
