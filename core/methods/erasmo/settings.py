"""ERASMO's settings: the estimator's hyperparameters, and the sentence embedder a run compares it with.

Settings follow the paper (LoRA r=16, alpha=32, dropout 0.05, max length 256, last layer) except, *ours*: the
offline model (SmolLM2-135M), lr 5e-4 (LoRA needs a larger step than the authors' full-fine-tune 5e-5), 1 epoch
(what fits 5 minutes on 2 CPU cores for a few hundred rows), pooling over the value tokens only (the tokens every
row shares, "is" and the column names, carry no information about the row) and the contrastive objective instead of
the paper's causal-LM loss (`objective="causal_lm"` is the paper's recipe): on the tuning half of penguins it lifted
NMI by 7 points where the causal-LM loss moved nothing, and summing both was slower and worse (on the held-out half it
beat the untuned LM on wine only). `objective="neighbours"` (a row's positive is one of its nearest rows in the
scaled raw features) is an option: it beat the default on cars and lost on wine. The README records what each gave.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.embed.registry import DEFAULT_EMBEDDER, EMBEDDER_CHOICES
from core.settings import option


@dataclass
class ERASMOParams:
    """What the estimator learns and embeds with."""

    model: str = option("smollm2", "Language model", "The causal LM to fine-tune: 'smollm2' (installed), a local "
                        "folder or a Hugging Face id.", suggestions=("smollm2",))
    verbalize: Literal["", "words", "bins"] = option(
        "", "How numbers are written", choice_labels={"": "as digits (ERASMO)", "words": "as words (ERASMO-NV)",
                                                      "bins": "as low / medium / high"},
        flag=True, flag_alone="words")
    objective: Literal["causal_lm", "contrastive", "both", "neighbours"] = option(
        "contrastive", "Training objective", "What fine-tuning minimises.", choice_labels={
            "causal_lm": "predict the next token (the paper's)",
            "contrastive": "two views of a row pool to the same state (ours, default)",
            "both": "both losses, summed",
            "neighbours": "a row and one of its nearest rows (raw features) pool to the same state"}, flag=True)
    neighbours: int = option(5, "Nearest rows that count as alike", "With the neighbours objective, a row's "
                             "positive is drawn from this many nearest rows in the scaled raw features (itself "
                             "included).", minimum=1, maximum=100, advanced=True,
                             when={"objective": ("neighbours",)})
    clause_drop: float = option(0.5, "Clauses left out per view", "Each contrastive view of a row keeps its "
                                "clauses in a new order and leaves each out with this probability.", minimum=0.0,
                                maximum=0.9, advanced=True,
                                when={"objective": ("contrastive", "both", "neighbours")})
    temperature: float = option(0.1, "Contrastive temperature", minimum=0.01, maximum=10.0, advanced=True,
                                when={"objective": ("contrastive", "both", "neighbours")})
    epochs: int = option(1, "Epochs", "Passes over the rows; each reshuffles the clauses.", minimum=0, maximum=100)
    lora: bool = option(True, "LoRA", "Train small adapters instead of every weight (faster, less memory).",
                        advanced=True)
    r: int = option(16, "LoRA rank", minimum=1, maximum=512, advanced=True, when={"lora": (True,)})
    alpha: int = option(32, "LoRA alpha", minimum=1, advanced=True, when={"lora": (True,)})
    dropout: float = option(0.05, "LoRA dropout", minimum=0.0, maximum=0.9, advanced=True, when={"lora": (True,)})
    target_modules: str = option("", "LoRA target modules", "Comma-separated (e.g. q_proj,v_proj); empty: the "
                                 "model's default.", advanced=True, when={"lora": (True,)})
    lr: float = option(5e-4, "Learning rate", minimum=1e-8, maximum=1.0, advanced=True)
    batch_size: int = option(16, "Batch size", minimum=1, maximum=1024, advanced=True)
    max_length: int = option(256, "Longest row (tokens)", minimum=8, maximum=8192, advanced=True)
    pooling: Literal["mean", "values", "predictive", "last"] = option(
        "values", "Pooling", "Which hidden states make a row's vector.", advanced=True,
        choice_labels={"mean": "all tokens", "values": "the value tokens", "predictive": "the tokens predicting "
                       "each value", "last": "the last token"})
    layer: int = option(-1, "Layer", "-1 is the last layer.", advanced=True)
    permutations: int = option(1, "Clause orders averaged", "Above 1, a row's vector is the mean over that many "
                               "seeded clause orders.", minimum=1, maximum=32, advanced=True)
    postprocess: Literal["standardize", "whiten", "none"] = option(
        "standardize", "Rescale the vectors", advanced=True,
        choice_labels={"standardize": "standardise each dimension", "whiten": "whiten", "none": "none"})
    whiten_components: int = option(32, "Whitening components", minimum=1, advanced=True,
                                    when={"postprocess": ("whiten",)})
    max_chars_per_value: int = option(200, "Longest cell (characters)", minimum=1, advanced=True)
    seed: int = option(0, "Seed", advanced=True)

    def lora_targets(self) -> list[str] | None:
        """`target_modules` as a list; None lets peft choose per architecture."""
        return [name.strip() for name in self.target_modules.split(",") if name.strip()] or None


@dataclass
class ERASMOSettings(ERASMOParams):
    """ERASMO as a run: the estimator's parameters and the sentence embedder of the comparison."""

    embedder: str = option(DEFAULT_EMBEDDER, "Sentence embedder (comparison)", "Embeds the same row texts, as a "
                           "baseline ERASMO must beat.", suggestions=EMBEDDER_CHOICES, flag=True, advanced=True)
