"""ERASMO's fine-tuning step: causal-LM loss on encoded rows, LoRA or full, with progress, cancel and checkpoints.

Every epoch draws its clause orders and batch order from a generator seeded by (seed, epoch) and reseeds torch the
same way, so a run resumed from a checkpoint trains exactly as an uninterrupted one would.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from core.errors import RunCancelled, SettingsError
from core.train import Checkpoint, epoch_generator

TrainProgress = Callable[[float, str], None]
"""progress(fraction of the fine-tuning done in [0, 1], message with loss and ETA)."""
EpochTexts = Callable[[int, np.random.Generator], list[str]]
"""texts(epoch, generator): the rows encoded for one epoch, clause order drawn from the generator."""



def add_lora(model: Any, *, r: int, alpha: int, dropout: float, target_modules: Sequence[str] | None) -> Any:
    """Wrap `model` with LoRA adapters; `target_modules` None lets peft choose per architecture (Llama: q/v)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(task_type="CAUSAL_LM", r=r, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=list(target_modules) if target_modules else None)
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise SettingsError(f"LoRA cannot be set up on this model ({exc}). Name its attention projections in "
                            "target_modules (e.g. q_proj,v_proj or c_attn), or turn LoRA off.") from exc


def causal_lm_batch(tokenizer: Any, texts: Sequence[str], *, max_length: int, device: str) -> dict[str, Any]:
    """Tokenised rows ending with the end-of-text token, labels = inputs with padding ignored (-100)."""
    batch = tokenizer([text + tokenizer.eos_token for text in texts], return_tensors="pt", padding=True,
                      truncation=True, max_length=max_length)
    batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    return {name: tensor.to(device) for name, tensor in batch.items()}


def finetune(model: Any, tokenizer: Any, epoch_texts: EpochTexts, *, epochs: int, lr: float, batch_size: int,
             max_length: int, seed: int, device: str = "cpu", lora: bool = True, checkpoint: Checkpoint | None = None,
             progress: TrainProgress | None = None, should_stop: Callable[[], bool] | None = None
             ) -> dict[str, list[float]]:
    """Train `model` in place with the causal-LM loss; return {"step": losses, "epoch": mean loss per epoch}.

    Resumes from `checkpoint` when it holds an earlier epoch and saves it after every epoch. Raises RunCancelled
    between steps when `should_stop()` turns true (the last finished epoch stays in the checkpoint).
    """
    import torch

    if batch_size < 1 or epochs < 0 or lr <= 0:
        raise SettingsError("batch_size must be at least 1, epochs at least 0, and lr positive.")
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr)
    history: dict[str, list[float]] = {"step": [], "epoch": []}
    start_epoch = 0
    if checkpoint is not None and checkpoint.exists():
        start_epoch, history = checkpoint.load(model, optimizer, lora)
        if start_epoch > epochs:
            raise SettingsError(f"The checkpoint in {checkpoint.folder} already holds {start_epoch} epochs, more than "
                                f"the {epochs} asked for. Ask for at least {start_epoch}, or delete the folder.")
    clock: _Eta | None = None
    model.train()
    for epoch in range(start_epoch, epochs):
        rng = epoch_generator(seed, epoch)
        torch.manual_seed(seed * 100_003 + epoch)  # dropout masks as in an uninterrupted run
        texts = epoch_texts(epoch, rng)
        order = rng.permutation(len(texts))
        batches = [[texts[i] for i in order[start:start + batch_size]] for start in range(0, len(texts), batch_size)]
        if clock is None:
            clock = _Eta(total_steps=len(batches) * epochs, done_before=len(batches) * start_epoch)
        losses = []
        for batch_texts in batches:
            if should_stop and should_stop():
                saved = f"; epochs up to {epoch} are saved in {checkpoint.folder}." if checkpoint else "."
                raise RunCancelled(f"Fine-tuning was cancelled in epoch {epoch + 1}{saved}")
            loss = model(**causal_lm_batch(tokenizer, batch_texts, max_length=max_length, device=device)).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            history["step"].append(losses[-1])
            if progress:
                progress(clock.step(), f"Epoch {epoch + 1}/{epochs}, step {len(losses)}/{len(batches)}, "
                         f"loss {losses[-1]:.3f}, {clock.remaining()} left")
        history["epoch"].append(float(np.mean(losses)) if losses else float("nan"))
        if checkpoint is not None:
            checkpoint.save(model, optimizer, epoch + 1, history, lora)
    model.eval()
    return history


class _Eta:
    """Fraction done and time left, from the mean duration of the steps taken so far in this call."""

    def __init__(self, total_steps: int, done_before: int) -> None:
        self.total, self.done, self.first = max(total_steps, 1), done_before, done_before
        self.started = time.perf_counter()

    def step(self) -> float:
        self.done += 1
        return self.done / self.total

    def remaining(self) -> str:
        seconds = (time.perf_counter() - self.started) / max(self.done - self.first, 1) * (self.total - self.done)
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s" if seconds >= 60 else f"{seconds:.0f} s"
