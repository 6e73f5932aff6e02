"""The ERASMO estimator (arXiv 2410.03738): fine-tune a causal LM on table rows written as text, then embed the rows
with it."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.data.encode import EncodedRow, Verbalizer, encode_rows, make_verbalizer
from core.data.roles import infer_roles
from core.embed.causal_lm import embed_texts, load_causal_lm, postprocess_embeddings
from core.embed.tabular import table_features
from core.methods.erasmo.objective import RowPair, add_lora, causal_lm_loss, combined_loss, contrastive_loss
from core.methods.erasmo.settings import ERASMOParams
from core.progress import StepProgress, StopFn, check_stop, never_stop
from core.settings import check_settings
from core.train import Checkpoint, Examples, Loss, Trainer, seed_everything

ModelLoader = Callable[[str, str], tuple[Any, Any]]
"""loader(model setting, device) -> (causal LM, tokenizer); injected so tests never load SmolLM2."""


@dataclass(kw_only=True)
class ERASMO(ERASMOParams):
    """Fine-tunes a causal LM on "column is value" rows (clauses shuffled per row per epoch) and embeds rows with it.

    `ERASMO(model="smollm2", epochs=1).fit(frame, columns).embed(frame)`; the hyperparameters are ERASMOParams'
    (defaults and their reasons in core.methods.erasmo.settings). "values" pooling reads the value tokens only,
    "predictive" the states that predict each value token, "last" the last token. `postprocess` rescales the vectors
    over the table ("standardize" each dimension, so a few outlier dimensions stop deciding distances; "whiten" keeps
    `whiten_components` principal directions). The README's ERASMO section records what each choice gave.
    Embeddings use the fixed column order, or the mean over `permutations` seeded orders when it is above 1.
    """

    device: str = "cpu"
    checkpoint_dir: str | None = None
    progress: StepProgress | None = None
    should_stop: StopFn = never_stop
    model_loader: ModelLoader = load_causal_lm

    def fit(self, frame: pd.DataFrame, columns: Sequence[str] | None = None,
            features: np.ndarray | None = None) -> "ERASMO":
        """Load the LM, wrap it with LoRA (or train all weights), fine-tune on the rows; `epochs=0` keeps it as is.

        `features` (one row per row of `frame`) are what the neighbours objective measures nearness in; None builds
        scaled numeric + one-hot features from the columns' types.
        """
        check_settings(self, ERASMOParams)
        seed_everything(self.seed)
        self.columns_ = list(frame.columns if columns is None else columns)
        self.verbalizer_: Verbalizer | None = make_verbalizer(self.verbalize or None, frame, self.columns_)
        model, self.tokenizer_ = self.model_loader(self.model, self.device)
        if self.lora:
            model = add_lora(model, r=self.r, alpha=self.alpha, dropout=self.dropout,
                             target_modules=self.lora_targets())
        else:
            model.requires_grad_(True)
        self.model_ = model

        checkpoint = None
        if self.checkpoint_dir:
            checkpoint = Checkpoint(self.checkpoint_dir, self._fingerprint(), adapter=self.lora)
        trainer = Trainer(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, seed=self.seed,
                          checkpoint=checkpoint, progress=self.progress, should_stop=self.should_stop)
        examples, loss = self._objective(frame, features)
        self.history_ = trainer.fit(self.model_, examples, loss).history_
        return self

    def _objective(self, frame: pd.DataFrame, features: np.ndarray | None) -> tuple[Examples, Loss]:
        """One epoch's examples and the loss of a batch of them, for the `objective` setting."""
        options = dict(max_length=self.max_length, device=self.device)
        if self.objective == "causal_lm":
            def rows(epoch: int, rng: np.random.Generator) -> list[str]:
                return [row.text for row in self.encode(frame, order=rng)]

            return rows, causal_lm_loss(self.model_, self.tokenizer_, **options)

        nearest = self._nearest_rows(frame, features) if self.objective == "neighbours" else None

        def pairs(epoch: int, rng: np.random.Generator) -> list[RowPair]:
            partners = frame if nearest is None else frame.iloc[
                nearest[np.arange(len(frame)), rng.integers(nearest.shape[1], size=len(frame))]]
            return list(zip(self.encode(frame, order=rng, drop=self.clause_drop),
                            self.encode(partners, order=rng, drop=self.clause_drop)))

        make = combined_loss if self.objective == "both" else contrastive_loss
        return pairs, make(self.model_, self.tokenizer_, view=(self.layer, self.pooling),
                           temperature=self.temperature, **options)

    def _nearest_rows(self, frame: pd.DataFrame, features: np.ndarray | None) -> np.ndarray:
        """Each row's `neighbours` nearest rows (itself included) in the raw features: the rows its state should
        share."""
        from sklearn.neighbors import NearestNeighbors

        if features is None:  # the intake's rule for numbers (numbers written as text count), the rest one-hot
            roles = infer_roles(frame[self.columns_])
            numeric = [c for c in self.columns_ if roles[c] == "numeric"]
            features = table_features(frame, numeric, [c for c in self.columns_ if c not in numeric])
        count = min(self.neighbours, len(frame))
        return NearestNeighbors(n_neighbors=count).fit(features).kneighbors(features, return_distance=False)

    def encode(self, frame: pd.DataFrame, order: np.random.Generator | int | None = None,
               drop: float = 0.0) -> list[EncodedRow]:
        """The rows as ERASMO writes them (fitted columns and verbalizer); `order` and `drop` as in `encode_rows`."""
        return encode_rows(frame, self.columns_, order=order, drop=drop, max_chars_per_value=self.max_chars_per_value,
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
        check_stop(self.should_stop, "Embedding was cancelled.")

    def _fingerprint(self) -> dict[str, Any]:
        """The settings that shape training; a checkpoint resumes only under the same ones."""
        names = ("model", "objective", "lora", "r", "alpha", "dropout", "target_modules", "epochs", "lr", "batch_size",
                 "max_length", "verbalize", "max_chars_per_value", "seed")
        values = {name: getattr(self, name) for name in names}
        values["target_modules"] = self.lora_targets() or []
        values["verbalize"] = self.verbalize or None
        values["columns"] = list(map(str, self.columns_))
        if self.objective != "causal_lm":
            values.update(clause_drop=self.clause_drop, temperature=self.temperature, layer=self.layer,
                          pooling=self.pooling)
        if self.objective == "neighbours":
            values["neighbours"] = self.neighbours
        values.pop("epochs")  # more epochs may continue a finished run
        return values
