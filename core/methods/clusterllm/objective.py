"""Fine-tuning a sentence-transformers model on judged triplets with the paper's InfoNCE (in core.train's loop).

Loss (the authors' code): for anchor aᵢ, positive pᵢ, hard negative nᵢ and cosine s(·,·)/τ,
  L = CE over [s(aᵢ,pᵢ), s(aᵢ,n₁) … s(aᵢ,n_B)]   (hard negative + the batch's other negatives)
    + CE over [s(pᵢ,aᵢ), s(pᵢ,aⱼ) for j ≠ i]       (the symmetric term: the positive must find its anchor)
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.progress import StepProgress, StopFn
from core.train import Checkpoint, Trainer

Triplet = tuple[str, str, str]


def info_nce_loss(anchor, positive, negative, temperature: float = 0.01):
    """The paper's InfoNCE on (B, d) tensors (any scale: cosine is taken here); returns a scalar tensor."""
    import torch
    import torch.nn.functional as F

    a, p, n = (F.normalize(t, dim=-1) for t in (anchor, positive, negative))
    targets = torch.arange(len(a), device=a.device)
    forward = torch.cat([(a * p).sum(-1, keepdim=True), a @ n.T], dim=1) / temperature
    backward = (p @ a.T) / temperature  # row i: s(pᵢ, aⱼ); the target is the diagonal
    return F.cross_entropy(forward, torch.zeros_like(targets)) + F.cross_entropy(backward, targets)


class TripletFineTuner:
    """Trains a SentenceTransformer in place on (anchor, positive, negative) texts with AdamW, in core.train's loop.

    Every epoch ends with a checkpoint in `checkpoint_dir`; `fit` resumes from it when it belongs to the same triplets
    and settings, and refuses one made for others (SettingsError). `should_stop` is polled between batches
    (RunCancelled); `progress(fraction, message)` is told about each batch. Learned: `history_` (mean loss per epoch,
    the finished ones also after a cancel), `resumed_from_` (epochs found in the checkpoint).
    """

    def __init__(self, *, epochs: int = 2, lr: float = 1e-4, batch_size: int = 16, temperature: float = 0.01,
                 weight_decay: float = 0.01, seed: int = 0, device: str = "cpu", checkpoint_dir: str | Path | None = None,
                 should_stop: StopFn | None = None, progress: StepProgress | None = None) -> None:
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.temperature = temperature
        self.weight_decay = weight_decay
        self.seed = seed
        self.device = device
        self.checkpoint_dir = checkpoint_dir
        self.should_stop = should_stop
        self.progress = progress

    def fit(self, model: Any, triplets: Sequence[Triplet]) -> "TripletFineTuner":
        """Fine-tune `model` (modified in place) on the triplets for `epochs` epochs, resuming when possible."""
        model.to(self.device)
        checkpoint = None
        if self.checkpoint_dir is not None:
            checkpoint = Checkpoint(self.checkpoint_dir, self._fingerprint(triplets))
        self.trainer_ = Trainer(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                                weight_decay=self.weight_decay, seed=self.seed, checkpoint=checkpoint,
                                progress=self.progress, should_stop=self.should_stop)
        self.trainer_.fit(model, lambda epoch, generator: triplets, lambda batch: self.loss(model, batch))
        self.resumed_from_ = self.trainer_.resumed_from_.epoch
        return self

    @property
    def history_(self) -> list[float]:
        """Mean loss per finished epoch (read from the trainer, so a cancelled fit shows the epochs it finished)."""
        return self.trainer_.history_["epoch"]

    def loss(self, model: Any, batch: Sequence[Triplet]):
        """The InfoNCE loss of a batch of triplets, as a tensor to train on."""
        anchor, positive, negative = (self._embed(model, [t[i] for t in batch]) for i in range(3))
        return info_nce_loss(anchor, positive, negative, self.temperature)

    def batch_loss(self, model: Any, batch: Sequence[Triplet]) -> float:
        """The loss on a batch without training (for checks and reports)."""
        import torch

        with torch.no_grad():
            return float(self.loss(model, batch))

    def _embed(self, model: Any, texts: list[str]):
        features = model.preprocess(texts)
        features = {key: value.to(self.device) if hasattr(value, "to") else value for key, value in features.items()}
        return model(features)["sentence_embedding"]

    def _fingerprint(self, triplets: Sequence[Triplet]) -> dict[str, Any]:
        """The settings that shape training, and the triplets (hashed); a checkpoint resumes only under the same."""
        payload = json.dumps([list(t) for t in triplets], ensure_ascii=False).encode("utf-8")
        return {"lr": self.lr, "batch_size": self.batch_size, "temperature": self.temperature,
                "weight_decay": self.weight_decay, "seed": self.seed, "triplets": hashlib.sha256(payload).hexdigest()}
