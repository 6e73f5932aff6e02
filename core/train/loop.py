"""The one training loop: seeded epochs of batches, optimiser steps with gradient accumulation, progress with time
left, cancel between steps, and checkpoints that resume mid-epoch exactly where an uninterrupted run would be.

A method plugs in only its objective, as a loss plugs into sentence-transformers' trainer: the model, one epoch's
examples (`examples(epoch, generator)`), the loss of a batch, and optionally AdamW parameter groups.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from core.errors import SettingsError
from core.progress import Eta, StepProgress, StopFn, check_stop
from core.train.checkpoint import Checkpoint, DamagedCheckpointError, History, Position
from core.train.seeding import epoch_generator, seed_step

Examples = Callable[[int, np.random.Generator], Sequence[Any]]
"""examples(epoch, generator): one epoch's training examples (any sequence: read by index, only when batched);
anything random in them is drawn from the generator."""
Loss = Callable[[list[Any]], Any]
"""loss(batch of examples) -> a scalar torch tensor to minimise."""
LOSS_WINDOW = 20  # steps averaged in the loss that progress messages show


class Trainer:
    """Trains a torch model in place with AdamW: `Trainer(epochs=2, lr=1e-4, batch_size=16).fit(model, examples, loss)`.

    Each epoch takes its examples and their order from `epoch_generator(seed, epoch)` and cuts them into batches of
    `batch_size`; one optimiser step sums the gradients of `accumulate` batches (each loss divided by the step's
    number of batches, so a step's loss is their mean). Torch is reseeded before every step from (seed, epoch, step),
    so a run resumed mid-epoch trains exactly like an uninterrupted one.

    With a `checkpoint`, `fit` resumes from it (only under the same fingerprint) and saves it after every epoch and,
    when `checkpoint_seconds` is set, mid-epoch at most that often. `should_stop` is polled before every step
    (RunCancelled); `progress(fraction, message)` hears after every step, with the loss and the time left.

    Learned: `history_` ({"step": loss per step, "epoch": mean loss per epoch}, kept up to date while training, so a
    cancelled fit still shows what it did), `resumed_from_` (the Position found in the checkpoint).
    """

    def __init__(self, *, epochs: int, lr: float, batch_size: int = 1, accumulate: int = 1,
                 weight_decay: float = 0.01, seed: int = 0, checkpoint: Checkpoint | None = None,
                 checkpoint_seconds: float | None = None, progress: StepProgress | None = None,
                 should_stop: StopFn | None = None) -> None:
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.accumulate = accumulate
        self.weight_decay = weight_decay
        self.seed = seed
        self.checkpoint = checkpoint
        self.checkpoint_seconds = checkpoint_seconds
        self.progress = progress
        self.should_stop = should_stop

    def fit(self, model: Any, examples: Examples, loss: Loss,
            param_groups: list[dict[str, Any]] | None = None) -> "Trainer":
        """Train `model` (in place) for `epochs` epochs on `loss`; `param_groups` default to its trainable weights."""
        import torch

        if self.batch_size < 1 or self.accumulate < 1 or self.epochs < 0 or self.lr <= 0:
            raise SettingsError("batch_size and accumulate must be at least 1, epochs at least 0, and lr positive.")
        groups = param_groups or [{"params": [p for p in model.parameters() if p.requires_grad]}]
        optimizer = torch.optim.AdamW(groups, lr=self.lr, weight_decay=self.weight_decay)
        self.history_: History = {"step": [], "epoch": []}
        self.resumed_from_ = self._resume(model, optimizer)
        start, eta, saved_at = self.resumed_from_, None, time.perf_counter()
        model.train()
        for epoch in range(start.epoch, self.epochs):
            found, order = self._epoch(examples, epoch)
            steps = -(-len(found) // (self.batch_size * self.accumulate))
            eta = eta or Eta(steps * self.epochs, done_before=steps * epoch + start.step)
            for number in range(start.step if epoch == start.epoch else 0, steps):
                check_stop(self.should_stop, self._cancelled(epoch))
                seed_step(self.seed, epoch, number)
                self.history_["step"].append(_step(optimizer, loss, self._batches(found, order, number)))
                self._report(eta.advance(), eta, epoch, number, steps)
                if number + 1 < steps and self._due(saved_at):
                    saved_at = self._save(model, optimizer, Position(epoch, number + 1))
            losses = self.history_["step"][-steps:] if steps else [float("nan")]
            self.history_["epoch"].append(float(np.mean(losses)))
            saved_at = self._save(model, optimizer, Position(epoch + 1))
        model.eval()
        return self

    def _epoch(self, examples: Examples, epoch: int) -> tuple[Sequence[Any], np.ndarray]:
        """One epoch's examples and their order, both drawn from the epoch's generator."""
        generator = epoch_generator(self.seed, epoch)
        found = examples(epoch, generator)
        return found, generator.permutation(len(found))

    def _batches(self, found: Sequence[Any], order: np.ndarray, number: int) -> list[list[Any]]:
        """Step `number`'s `accumulate` batches of `batch_size` examples, read only now (they may be made lazily)."""
        per_step = self.batch_size * self.accumulate
        chosen = order[number * per_step:(number + 1) * per_step]
        return [[found[i] for i in chosen[at:at + self.batch_size]] for at in range(0, len(chosen), self.batch_size)]

    def _resume(self, model: Any, optimizer: Any) -> Position:
        if self.checkpoint is None or not self.checkpoint.exists():
            return Position()
        try:
            position, self.history_ = self.checkpoint.load(model, optimizer)
        except DamagedCheckpointError:  # nothing was restored: train from the start, the next save replaces it
            return Position()
        if position.epoch > self.epochs:
            raise SettingsError(f"The checkpoint in {self.checkpoint.folder} already holds {position.epoch} epochs, "
                                f"more than the {self.epochs} asked for. Ask for at least {position.epoch}, or delete "
                                "the folder to start over.")
        return position

    def _due(self, saved_at: float) -> bool:
        """Whether a mid-epoch checkpoint is due (`checkpoint_seconds` since the last one)."""
        return self.checkpoint_seconds is not None and time.perf_counter() - saved_at >= self.checkpoint_seconds

    def _save(self, model: Any, optimizer: Any, position: Position) -> float:
        """Save the checkpoint (when there is one); return the time of saving."""
        if self.checkpoint is not None:
            self.checkpoint.save(model, optimizer, position, self.history_)
        return time.perf_counter()

    def _report(self, fraction: float, eta: Eta, epoch: int, number: int, steps: int) -> None:
        if self.progress is None:
            return
        where = f"Step {number + 1}/{steps}"
        if self.epochs > 1:
            where = f"Epoch {epoch + 1}/{self.epochs}, step {number + 1}/{steps}"
        loss = np.mean(self.history_["step"][-LOSS_WINDOW:])
        self.progress(fraction, f"{where}, loss {loss:.3f}, {eta.remaining()}")

    def _cancelled(self, epoch: int) -> str:
        kept = f"; it resumes from the last checkpoint in {self.checkpoint.folder}" if self.checkpoint else ""
        return f"Training was cancelled in epoch {epoch + 1} of {self.epochs}{kept}."


def _step(optimizer: Any, loss: Loss, batches: list[list[Any]]) -> float:
    """One optimiser step over `batches` (gradients accumulated, each loss divided by their number); its mean loss."""
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for batch in batches:
        value = loss(batch) / len(batches)
        value.backward()
        total += float(value.detach())
    optimizer.step()
    return total
