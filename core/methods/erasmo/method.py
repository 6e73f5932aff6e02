"""ERASMO as a run method, beside the three baselines it must beat: the raw scaled/one-hot features, the same LM
without fine-tuning, and the default sentence embedder reading the same text; and its time estimate."""
from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.data.dataset import Dataset
from core.data.encode import encode_rows, make_verbalizer
from core.embed.causal_lm import SMOLLM2_PARAMETERS, causal_lm_parameters, load_causal_lm
from core.embed.tabular import table_features
from core.embed.registry import DEFAULT_EMBEDDER
from core.methods.base import Method, Representation, RunContext
from core.methods.costs import GPU_SPEEDUP, LOAD_SECONDS, embed_seconds
from core.methods.erasmo.estimator import ERASMO, ModelLoader
from core.methods.erasmo.settings import ERASMOParams, ERASMOSettings
from core.progress import StepProgress, as_stage
from core.settings import values_of

CHECKPOINT_FOLDER = "erasmo-checkpoint"
# Cost of SmolLM2-135M per token on 2 quiet CPU cores: one embedding pass, and one training pass (forward + backward)
# with LoRA or with every weight trained. "embed" and "lora" are measured on the default penguins run on a quiet
# machine (15.5k tokens: 108 s of LoRA training, 56 s for the two embedding passes; README, ERASMO section); "full"
# is scaled from LoRA by a loaded-machine comparison, not measured quietly.
CPU_SECONDS_PER_TOKEN = {"embed": 1.8e-3, "lora": 7e-3, "full": 9e-3}
# A training epoch's cost against the causal-LM loss's: the contrastive objective measured beside it on half of
# penguins at the same load (365 s against 271 s); "both" runs the two, so their sum; "neighbours" pools two views per
# row as the contrastive loss does (one of them a nearby row's).
OBJECTIVE_COST = {"causal_lm": 1.0, "contrastive": 1.35, "both": 2.35, "neighbours": 1.35}
CHARS_PER_WORD_TOKEN = 4.0
_DIGIT = re.compile(r"[0-9]")
_NUMBER_START = re.compile(r" [0-9]")
ESTIMATE_SAMPLE_ROWS = 200


class ERASMOMethod(Method):
    """ERASMO on the run pipeline, with the raw-feature, untuned-LM and sentence-embedder comparisons."""

    name: ClassVar[str] = "erasmo"
    label: ClassVar[str] = "ERASMO"
    title: ClassVar[str] = "ERASMO (fine-tuned causal LM on rows as text)"
    summary: ClassVar[str] = ("Rows become text ('age is 42, job is nurse'); a small language model is fine-tuned on "
                              "them and its states are clustered, beside the raw features it must beat.")
    kinds: ClassVar[tuple[str, ...]] = ("table",)
    settings_type: ClassVar[type] = ERASMOSettings
    comparison_titles: ClassVar[dict[str, str]] = {"raw_features": "raw features (scaled numeric + one-hot)",
                                                   "lm_no_finetune": "same LM without fine-tuning",
                                                   "sentence_embedder": "sentence embedder on the same text"}

    def __init__(self, model_loader: ModelLoader = load_causal_lm) -> None:
        self.model_loader = model_loader

    def represent(self, data: Dataset, settings: ERASMOSettings, context: RunContext) -> Representation:
        columns = data.feature_columns
        frame = data.frame
        raw_features = table_features(frame, data.columns_with("numeric"), data.columns_with("categorical"))

        def estimator(epochs: int, checkpoint_dir: str | None, progress: StepProgress | None) -> ERASMO:
            return ERASMO(**{**values_of(settings, ERASMOParams), "epochs": epochs}, device=context.device,
                          checkpoint_dir=checkpoint_dir, progress=progress, should_stop=context.should_stop,
                          model_loader=self.model_loader)

        context.report("lm_no_finetune", 0.0, f"Loading {settings.model}")
        untuned = estimator(0, None, None).fit(frame, columns)
        untuned_vectors = untuned.embed(frame, context.within(0.0, 0.1).embedding_progress("lm_no_finetune", "rows"))
        del untuned

        context.check_stop()
        checkpoint = str(context.directory.file(CHECKPOINT_FOLDER))
        erasmo = estimator(settings.epochs, checkpoint, as_stage(context.within(0.1, 0.85).report, "finetune"))
        started = time.perf_counter()
        erasmo.fit(frame, columns, raw_features)
        finetune_seconds = time.perf_counter() - started
        vectors = erasmo.embed(frame, context.within(0.85, 0.9).embedding_progress("embed", "rows"))

        texts = [row.text for row in erasmo.encode(frame)]
        sentence_vectors = context.within(0.9, 1.0).embed_texts(texts, settings.embedder)
        losses = erasmo.history_
        return Representation(
            embeddings=vectors,
            comparisons={"raw_features": raw_features, "lm_no_finetune": untuned_vectors,
                         "sentence_embedder": sentence_vectors},
            details={"loss": {name: [_json_float(v) for v in values] for name, values in losses.items()},
                     "objective": settings.objective,
                     "columns": [str(c) for c in columns],
                     "example_text": texts[0] if texts else "",
                     "trainable_parameters": _trainable_parameters(erasmo.model_),
                     "seconds": {"finetune": round(finetune_seconds, 2)}},
        )

    def estimate_seconds(self, data: Dataset, settings: ERASMOSettings, device: str) -> float | None:
        """Rough wall-clock seconds of a run, from the table's token count and the model's size (None: unknown)."""
        return estimate_seconds(data.frame, data.feature_columns, settings, device)

    def bench_fields(self, representation: Representation, comparisons: dict[str, Any],
                     k_true: int) -> dict[str, Any]:
        """The benchmark JSON's ERASMO keys: the three baselines scored the same way."""
        return {"baselines": comparisons}


def estimate_seconds(frame: pd.DataFrame, columns: Sequence[str], settings: ERASMOSettings,
                     device: str) -> float | None:
    """Seconds for two embedding passes (before and after fine-tuning) and the training epochs, scaled from
    SmolLM2-135M's measured cost per token on 2 CPU cores; None when the model's size is unknown (a hub id)."""
    parameters = causal_lm_parameters(settings.model)
    if parameters is None:
        return None
    sample = frame.head(ESTIMATE_SAMPLE_ROWS)
    verbalizer = make_verbalizer(settings.verbalize or None, sample, columns)
    texts = [row.text for row in encode_rows(sample, columns, max_chars_per_value=settings.max_chars_per_value,
                                             verbalizer=verbalizer)]
    per_row = min(settings.max_length, float(np.mean([approximate_tokens(text) for text in texts or [""]])))
    tokens = per_row * len(frame) * parameters / SMOLLM2_PARAMETERS
    step = CPU_SECONDS_PER_TOKEN["lora" if settings.lora else "full"] * OBJECTIVE_COST[settings.objective]
    compute = tokens * (2 * max(settings.permutations, 1) * CPU_SECONDS_PER_TOKEN["embed"] + settings.epochs * step)
    if device.startswith("cuda"):
        compute /= GPU_SPEEDUP
    return LOAD_SECONDS + compute + embed_seconds(len(frame), DEFAULT_EMBEDDER, device)


def approximate_tokens(text: str) -> float:
    """Tokens of a row in SmolLM2's vocabulary, within about 15%: a token per digit and per space before a number,
    one per four other characters, plus the end-of-text token."""
    digits = len(_DIGIT.findall(text))
    return 1 + digits + len(_NUMBER_START.findall(text)) + (len(text) - digits) / CHARS_PER_WORD_TOKEN


def _trainable_parameters(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
