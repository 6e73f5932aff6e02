"""Fine-tuning a sentence-transformers model on judged triplets with the paper's InfoNCE, with checkpoints.

Loss (the authors' code): for anchor aᵢ, positive pᵢ, hard negative nᵢ and cosine s(·,·)/τ,
  L = CE over [s(aᵢ,pᵢ), s(aᵢ,n₁) … s(aᵢ,n_B)]   (hard negative + the batch's other negatives)
    + CE over [s(pᵢ,aᵢ), s(pᵢ,aⱼ) for j ≠ i]       (the symmetric term: the positive must find its anchor)
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import RunCancelled

CHECKPOINT = "checkpoint.pt"


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
    """Trains a SentenceTransformer in place on (anchor, positive, negative) texts with AdamW.

    Every epoch ends with a checkpoint (weights, optimizer, loss history) in `checkpoint_dir`; `fit` resumes from it
    when it belongs to the same triplets and settings. `should_stop` is polled between batches (RunCancelled);
    `progress(epoch_fraction, message)` is told about each batch. Learned: `history_` (mean loss per epoch),
    `resumed_from_` (epochs found in the checkpoint).
    """

    def __init__(self, *, epochs: int = 2, lr: float = 1e-4, batch_size: int = 16, temperature: float = 0.01,
                 weight_decay: float = 0.01, seed: int = 0, device: str = "cpu", checkpoint_dir: str | Path | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 progress: Callable[[float, str], None] | None = None) -> None:
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

    def fit(self, model: Any, triplets: Sequence[tuple[str, str, str]]) -> "TripletFineTuner":
        """Fine-tune `model` (modified in place) on the triplets for `epochs` epochs, resuming when possible."""
        import torch

        model.to(self.device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        fingerprint = self._fingerprint(triplets)
        self.history_: list[float] = []
        self.resumed_from_ = self._resume(model, optimizer, fingerprint)
        for epoch in range(self.resumed_from_, self.epochs):
            torch.manual_seed(self.seed * 1000 + epoch)  # dropout masks: the same run twice (or resumed) trains alike
            order = np.random.default_rng(self.seed + epoch).permutation(len(triplets))
            batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
            losses = []
            model.train()
            for number, batch in enumerate(batches):
                if self.should_stop is not None and self.should_stop():
                    raise RunCancelled("The run was cancelled during fine-tuning; it resumes from the last epoch.")
                losses.append(self.step(model, optimizer, [triplets[i] for i in batch]))
                if self.progress:
                    self.progress((epoch + (number + 1) / len(batches)) / self.epochs,
                                  f"Epoch {epoch + 1}/{self.epochs}, batch {number + 1}/{len(batches)}, "
                                  f"loss {losses[-1]:.3f}")
            self.history_.append(float(np.mean(losses)) if losses else float("nan"))
            self._save(model, optimizer, fingerprint, epoch + 1)
        model.eval()
        return self

    def step(self, model: Any, optimizer: Any, batch: Sequence[tuple[str, str, str]]) -> float:
        """One optimisation step on a batch of triplets; returns its loss."""
        anchor, positive, negative = (self._embed(model, [t[i] for t in batch]) for i in range(3))
        loss = info_nce_loss(anchor, positive, negative, self.temperature)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def batch_loss(self, model: Any, batch: Sequence[tuple[str, str, str]]) -> float:
        """The loss on a batch without training (for checks and reports)."""
        import torch

        with torch.no_grad():
            anchor, positive, negative = (self._embed(model, [t[i] for t in batch]) for i in range(3))
            return float(info_nce_loss(anchor, positive, negative, self.temperature))

    def _embed(self, model: Any, texts: list[str]):
        features = model.preprocess(texts)
        features = {key: value.to(self.device) if hasattr(value, "to") else value for key, value in features.items()}
        return model(features)["sentence_embedding"]

    def _fingerprint(self, triplets: Sequence[tuple[str, str, str]]) -> str:
        settings = [self.lr, self.batch_size, self.temperature, self.weight_decay, self.seed]
        payload = json.dumps([settings, [list(t) for t in triplets]], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _path(self) -> Path | None:
        return Path(self.checkpoint_dir) / CHECKPOINT if self.checkpoint_dir is not None else None

    def _resume(self, model: Any, optimizer: Any, fingerprint: str) -> int:
        """Load the checkpoint if it was made for these triplets and settings; return the epochs it holds."""
        import torch

        path = self._path()
        if path is None or not path.exists():
            return 0
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state.get("fingerprint") != fingerprint:
            return 0
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        self.history_ = list(state["history"])
        return min(int(state["epochs_done"]), self.epochs)

    def _save(self, model: Any, optimizer: Any, fingerprint: str, epochs_done: int) -> None:
        """Write the checkpoint atomically (a crash leaves the previous epoch's)."""
        import torch

        path = self._path()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "history": self.history_,
                    "epochs_done": epochs_done, "fingerprint": fingerprint}, tmp)
        os.replace(tmp, path)
