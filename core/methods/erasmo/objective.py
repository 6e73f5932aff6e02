"""ERASMO's objective: the causal-LM loss on rows written as text, with LoRA or every weight trained.

Training itself is core.train's loop; ERASMO gives it the rows encoded anew each epoch (clause order drawn from the
epoch's generator) and this loss.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.errors import SettingsError


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


def causal_lm_loss(model: Any, tokenizer: Any, *, max_length: int, device: str = "cpu") -> Callable[[list[str]], Any]:
    """loss(texts): the model's causal-LM loss on a batch of rows written as text (a scalar tensor)."""

    def loss(texts: list[str]) -> Any:
        return model(**causal_lm_batch(tokenizer, texts, max_length=max_length, device=device)).loss

    return loss
