"""CACTUS's settings. Defaults are *ours*, chosen on CLINC150 validation groups (the other-entity score offset at -3
and no self-supervision scored best; 3 epochs beat 1 on the val-split groups of seen intents, unseen intents and
mixed groups alike); they train in under 10 minutes on a 2-core CPU."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.embed.registry import DEFAULT_EMBEDDER, EMBEDDER_CHOICES
from core.settings import option

Attention = Literal["sia", "nia", "fia"]
Loss = Literal["augmented", "triplet"]


@dataclass
class CACTUSParams:
    """What the estimator learns with."""

    encoder: str = option(DEFAULT_EMBEDDER, "Encoder", "The pretrained encoder whose attention sees the group: "
                          "an installed model, a local folder or a Hugging Face id.", suggestions=EMBEDDER_CHOICES)
    attention: Attention = option(
        "sia", "Attention between entities",
        choice_labels={"sia": "SIA: each entity sees the others through one pooled vector (the paper's)",
                       "nia": "NIA: entities encoded alone", "fia": "FIA: every token sees every token (slow)"},
        flag=True)
    loss: Loss = option("augmented", "Training loss", choice_labels={
        "augmented": "augmented triplet loss with a learned neutral similarity (the paper's)",
        "triplet": "plain triplet loss"}, advanced=True, flag=True)
    context_bias: float = option(-3.0, "Starting offset for other entities", "Learned; 0 starts as the paper's plain "
                                 "SIA, -3 starts from the pretrained encoder.", minimum=-20.0, maximum=20.0,
                                 advanced=True)
    margin: float = option(0.1, "Margin", minimum=0.0, maximum=2.0, advanced=True)
    epochs: int = option(3, "Epochs", "Passes over the training groups; each takes about a third of the training "
                         "time.", minimum=0, maximum=100)
    lr: float = option(5e-5, "Learning rate", minimum=1e-8, maximum=1.0, advanced=True)
    batch_groups: int = option(1, "Groups per step", minimum=1, maximum=256, advanced=True)
    pretrain_steps: int = option(0, "Self-supervised steps", "Steps on word-dropped copies of training texts before "
                                 "training (0: none).", minimum=0, advanced=True)
    blend: float | None = option(1.0, "Share of the trained weights", "1 keeps the trained encoder; less averages "
                                 "it with the pretrained one (WiSE-FT), which carries over better to new kinds of "
                                 "entities; auto chooses it on the validation groups.", minimum=0.0, maximum=1.0,
                                 advanced=True, empty="auto")
    word_drop: float = option(0.3, "Word drop rate", minimum=0.0, maximum=0.99, advanced=True)
    max_tokens: int = option(32, "Longest entity (tokens)", minimum=4, maximum=512, advanced=True)
    seed: int = option(0, "Seed", advanced=True)


@dataclass
class CACTUSSettings(CACTUSParams):
    """CACTUS as a run: the estimator's parameters and the share of labelled groups held out for validation."""

    val_fraction: float = option(0.2, "Validation share", "Labelled groups held out to choose the threshold and "
                                 "give the scores.", minimum=0.05, maximum=0.9, advanced=True)
