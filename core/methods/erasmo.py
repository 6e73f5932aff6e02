"""ERASMO (arXiv 2410.03738): fine-tune a causal LM on table rows written as text, then embed the rows with it.

`ERASMO(...).fit(frame, columns).embed(frame)` is the estimator; `ERASMOMethod` runs it inside the pipeline and adds
the three baselines ERASMO must beat: the raw scaled/one-hot features, the same LM without fine-tuning, and the
default sentence embedder reading the same text.
"""
from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.data.dataset import Dataset
from core.data.encode import EncodedRow, Verbalizer, encode_rows, make_verbalizer
from core.embed.causal_lm import (POOLINGS, POSTPROCESSING, SMOLLM2_PARAMETERS, causal_lm_parameters, embed_texts,
                                  load_causal_lm, postprocess_embeddings)
from core.embed.registry import DEFAULT_EMBEDDER
from core.errors import RunCancelled, SettingsError
from core.methods.base import Representation, RunContext
from core.methods.baseline import embed_texts as embed_with_sentence_embedder
from core.methods.baseline import table_features
from core.methods.erasmo_training import Checkpoint, TrainProgress, add_lora, finetune, seed_everything

ModelLoader = Callable[[str, str], tuple[Any, Any]]
"""loader(model setting, device) -> (causal LM, tokenizer); injected so tests never load SmolLM2."""
CHECKPOINT_FOLDER = "erasmo-checkpoint"
# Cost of SmolLM2-135M per token on 2 quiet CPU cores: one embedding pass, and one training pass (forward + backward)
# with LoRA or with every weight trained. "embed" and "lora" are measured on the default penguins run on a quiet
# machine (15.5k tokens: 108 s of LoRA training, 56 s for the two embedding passes; README, ERASMO section); "full"
# is scaled from LoRA by a loaded-machine comparison, not measured quietly.
CPU_SECONDS_PER_TOKEN = {"embed": 1.8e-3, "lora": 7e-3, "full": 9e-3}
CHARS_PER_WORD_TOKEN = 4.0
_DIGIT = re.compile(r"[0-9]")
_NUMBER_START = re.compile(r" [0-9]")
GPU_SPEEDUP = 20.0  # a rough figure for a small model on one consumer GPU
LOAD_SECONDS = 10.0
SENTENCE_EMBEDDER_ROWS_PER_SECOND = 150.0
ESTIMATE_SAMPLE_ROWS = 200
COMPARISON_TITLES = {"raw_features": "raw features (scaled numeric + one-hot)",
                     "lm_no_finetune": "same LM without fine-tuning",
                     "sentence_embedder": "sentence embedder on the same text"}


class ERASMO:
    """Fine-tunes a causal LM on "column is value" rows (clauses shuffled per row per epoch) and embeds rows with it.

    Settings follow the paper (LoRA r=16, alpha=32, dropout 0.05, max length 256, last layer) except, *ours*: the
    offline model (SmolLM2-135M), lr 5e-4 (LoRA needs a larger step than the authors' full-fine-tune 5e-5), 1 epoch
    (what fits 5 minutes on 2 CPU cores for a few hundred rows) and pooling over the value tokens only ("values":
    the tokens every row shares, "is" and the column names, carry no information about the row). "predictive"
    pools the states that predict each value token, "last" the last token. `postprocess` rescales the vectors over
    the table ("standardize" each dimension, so a few outlier dimensions stop deciding distances; "whiten" keeps
    `whiten_components` principal directions). The README's ERASMO section records what each choice gave.
    Embeddings use the fixed column order, or the mean over `permutations` seeded orders when it is above 1.
    """

    def __init__(self, model: str = "smollm2", *, lora: bool = True, r: int = 16, alpha: int = 32,
                 dropout: float = 0.05, target_modules: Sequence[str] | None = None, epochs: int = 1,
                 lr: float = 5e-4, batch_size: int = 16, max_length: int = 256, verbalize: str | None = None,
                 pooling: str = "values", layer: int = -1, permutations: int = 1, postprocess: str = "standardize",
                 whiten_components: int = 32, max_chars_per_value: int = 200, seed: int = 0, device: str = "cpu",
                 checkpoint_dir: str | None = None,
                 progress: TrainProgress | None = None, should_stop: Callable[[], bool] | None = None,
                 model_loader: ModelLoader = load_causal_lm) -> None:
        self.model = model
        self.lora = lora
        self.r = r
        self.alpha = alpha
        self.dropout = dropout
        self.target_modules = target_modules
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.verbalize = verbalize
        self.pooling = pooling
        self.layer = layer
        self.permutations = permutations
        self.postprocess = postprocess
        self.whiten_components = whiten_components
        self.max_chars_per_value = max_chars_per_value
        self.seed = seed
        self.device = device
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.should_stop = should_stop
        self.model_loader = model_loader

    def fit(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> "ERASMO":
        """Load the LM, wrap it with LoRA (or train all weights), fine-tune on the rows; `epochs=0` keeps it as is."""
        self._check_settings()
        seed_everything(self.seed)
        self.columns_ = list(frame.columns if columns is None else columns)
        self.verbalizer_: Verbalizer | None = make_verbalizer(self.verbalize, frame, self.columns_)
        model, self.tokenizer_ = self.model_loader(self.model, self.device)
        if self.lora:
            model = add_lora(model, r=self.r, alpha=self.alpha, dropout=self.dropout,
                             target_modules=self.target_modules)
        else:
            model.requires_grad_(True)
        self.model_ = model

        def epoch_texts(epoch: int, rng: np.random.Generator) -> list[str]:
            return [row.text for row in self.encode(frame, order=rng)]

        checkpoint = Checkpoint(self.checkpoint_dir, self._fingerprint()) if self.checkpoint_dir else None
        self.history_ = finetune(self.model_, self.tokenizer_, epoch_texts, epochs=self.epochs, lr=self.lr,
                                 batch_size=self.batch_size, max_length=self.max_length, seed=self.seed,
                                 device=self.device, lora=self.lora, checkpoint=checkpoint, progress=self.progress,
                                 should_stop=self.should_stop)
        return self

    def encode(self, frame: pd.DataFrame, order: np.random.Generator | int | None = None) -> list[EncodedRow]:
        """The rows as ERASMO writes them (fitted columns and verbalizer); `order` as in `encode_rows`."""
        return encode_rows(frame, self.columns_, order=order, max_chars_per_value=self.max_chars_per_value,
                           verbalizer=self.verbalizer_)

    def embed(self, frame: pd.DataFrame, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """One deterministic vector per row: pooled hidden states of `layer`, averaged over the orders, rescaled."""
        orders: list[int | None] = [None] if self.permutations <= 1 else [
            int(np.random.default_rng([self.seed, 1, i]).integers(2**31)) for i in range(self.permutations)]
        total = len(frame) * len(orders)
        vectors = []
        for index, order in enumerate(orders):
            rows = self.encode(frame, order=order)
            done_before = index * len(frame)
            vectors.append(embed_texts(
                self.model_, self.tokenizer_, [row.text for row in rows],
                value_spans=[row.value_spans for row in rows], pooling=self.pooling, layer=self.layer,
                batch_size=self.batch_size, max_length=self.max_length, device=self.device,
                progress=(lambda done, _n: progress(done_before + done, total)) if progress else None,
                check_stop=self._check_stop))
        return postprocess_embeddings(np.mean(vectors, axis=0), self.postprocess, components=self.whiten_components)

    def _check_stop(self) -> None:
        if self.should_stop and self.should_stop():
            raise RunCancelled("Embedding was cancelled.")

    def _check_settings(self) -> None:
        if self.pooling not in POOLINGS:
            raise SettingsError(f"pooling must be one of {', '.join(POOLINGS)}, not {self.pooling!r}.")
        if self.postprocess not in POSTPROCESSING:
            raise SettingsError(f"postprocess must be one of {', '.join(POSTPROCESSING)}, not {self.postprocess!r}.")
        if self.max_length < 8:
            raise SettingsError(f"max_length must be at least 8 tokens, not {self.max_length}.")

    def _fingerprint(self) -> dict[str, Any]:
        """The settings that shape training; a checkpoint resumes only under the same ones."""
        names = ("model", "lora", "r", "alpha", "dropout", "target_modules", "epochs", "lr", "batch_size",
                 "max_length", "verbalize", "max_chars_per_value", "seed")
        values = {name: getattr(self, name) for name in names}
        values["target_modules"] = list(values["target_modules"] or [])
        values["columns"] = list(map(str, self.columns_))
        values.pop("epochs")  # more epochs may continue a finished run
        return values


@dataclass
class ERASMOSettings:
    """ERASMO's settings as saved with a run. `target_modules` is comma-separated ("" = the model's default);
    `verbalize` is "" (digits), "words" or "bins"; `embedder` is the sentence embedder of the comparison."""

    model: str = "smollm2"
    lora: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str = ""
    epochs: int = 1
    lr: float = 5e-4
    batch_size: int = 16
    max_length: int = 256
    verbalize: str = ""
    pooling: str = "values"
    layer: int = -1
    permutations: int = 1
    postprocess: str = "standardize"
    whiten_components: int = 32
    max_chars_per_value: int = 200
    seed: int = 0
    embedder: str = DEFAULT_EMBEDDER


class ERASMOMethod:
    """ERASMO on the run pipeline, with the raw-feature, untuned-LM and sentence-embedder comparisons."""

    name: ClassVar[str] = "erasmo"
    title: ClassVar[str] = "ERASMO (fine-tuned causal LM on rows as text)"
    kinds: ClassVar[tuple[str, ...]] = ("table",)
    settings_type: ClassVar[type] = ERASMOSettings

    def __init__(self, model_loader: ModelLoader = load_causal_lm) -> None:
        self.model_loader = model_loader

    def represent(self, data: Dataset, settings: ERASMOSettings, context: RunContext) -> Representation:
        columns = data.feature_columns
        frame = data.frame

        def estimator(epochs: int, checkpoint_dir: str | None, progress: TrainProgress | None) -> ERASMO:
            options = asdict(settings)
            options.pop("embedder")
            options["target_modules"] = [m.strip() for m in settings.target_modules.split(",") if m.strip()] or None
            options["verbalize"] = settings.verbalize or None
            options["epochs"] = epochs
            return ERASMO(**options, device=context.device, checkpoint_dir=checkpoint_dir, progress=progress,
                          should_stop=context.should_stop, model_loader=self.model_loader)

        def embedding_progress(stage: str, low: float, high: float) -> Callable[[int, int], None]:
            def report(done: int, total: int) -> None:
                context.report(stage, low + (high - low) * done / max(total, 1), f"Embedded {done}/{total} rows")
            return report

        context.report("lm_no_finetune", 0.0, f"Loading {settings.model}")
        untuned = estimator(0, None, None).fit(frame, columns)
        untuned_vectors = untuned.embed(frame, embedding_progress("lm_no_finetune", 0.0, 0.1))
        del untuned

        context.check_stop()
        checkpoint = str(context.directory.file(CHECKPOINT_FOLDER))
        erasmo = estimator(settings.epochs, checkpoint,
                           lambda fraction, message: context.report("finetune", 0.1 + 0.75 * fraction, message))
        started = time.perf_counter()
        erasmo.fit(frame, columns)
        finetune_seconds = time.perf_counter() - started
        vectors = erasmo.embed(frame, embedding_progress("embed", 0.85, 0.9))

        texts = [row.text for row in erasmo.encode(frame)]
        sentence_vectors = embed_with_sentence_embedder(texts, settings.embedder, _within(context, 0.9, 1.0))
        losses = erasmo.history_
        return Representation(
            embeddings=vectors,
            comparisons={"raw_features": table_features(data), "lm_no_finetune": untuned_vectors,
                         "sentence_embedder": sentence_vectors},
            details={"loss": {name: [_json_float(v) for v in values] for name, values in losses.items()},
                     "comparison_titles": COMPARISON_TITLES, "columns": [str(c) for c in columns], "example_text": texts[0] if texts else "",
                     "trainable_parameters": _trainable_parameters(erasmo.model_),
                     "seconds": {"finetune": round(finetune_seconds, 2)}},
        )

    @staticmethod
    def estimate_seconds(data: Dataset, settings: ERASMOSettings, device: str) -> float | None:
        """Rough wall-clock seconds of a run, from the table's token count and the model's size (None: unknown)."""
        return estimate_seconds(data.frame, data.feature_columns, settings, device)

    @staticmethod
    def bench_fields(representation: Representation, comparisons: dict[str, Any], k_true: int) -> dict[str, Any]:
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
    step = CPU_SECONDS_PER_TOKEN["lora" if settings.lora else "full"]
    compute = tokens * (2 * max(settings.permutations, 1) * CPU_SECONDS_PER_TOKEN["embed"] + settings.epochs * step)
    if device.startswith("cuda"):
        compute /= GPU_SPEEDUP
    return LOAD_SECONDS + compute + len(frame) / SENTENCE_EMBEDDER_ROWS_PER_SECOND


def approximate_tokens(text: str) -> float:
    """Tokens of a row in SmolLM2's vocabulary, within about 15%: a token per digit and per space before a number,
    one per four other characters, plus the end-of-text token."""
    digits = len(_DIGIT.findall(text))
    return 1 + digits + len(_NUMBER_START.findall(text)) + (len(text) - digits) / CHARS_PER_WORD_TOKEN


def _within(context: RunContext, low: float, high: float) -> RunContext:
    """The same context with its progress share narrowed to [low, high] of the current span."""
    start, end = context.span
    return replace(context, span=(start + (end - start) * low, start + (end - start) * high))


def _trainable_parameters(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
