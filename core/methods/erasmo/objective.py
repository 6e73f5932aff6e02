"""ERASMO's objectives: the paper's causal-LM loss on rows written as text, and (*ours*) a contrastive loss on the
pooled state that is clustered, alone or beside it; LoRA or every weight trained.

Training itself is core.train's loop; ERASMO gives it each epoch's examples (clause orders and dropped clauses drawn
from the epoch's generator) and one of these losses.

The causal-LM loss teaches the model which tokens follow which, and nothing in it asks the pooled state (what
k-means reads) to tell rows apart by their values. The contrastive loss does: two partial views of a row (clauses
shuffled, some left out) must pool to nearer states than views of the other rows of the batch (InfoNCE, as SimCSE
and SCARF), so every value a row has, numbers included, has to show in its pooled state. The neighbours objective
uses the same loss with a nearby row (in the scaled raw features) as the second view, so rows the features call alike
pool together instead of every row being told from every other.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.data.encode import EncodedRow
from core.embed.causal_lm import View, pooled_views
from core.errors import SettingsError

RowPair = tuple[EncodedRow, EncodedRow]
"""Two views of one row (clauses reordered, some dropped): the contrastive objective's training example."""


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


def info_nce(first: Any, second: Any, temperature: float) -> Any:
    """Symmetric InfoNCE (SimCLR's NT-Xent) between two views, row i of `first` matching row i of `second`.

    Each dimension is standardised over the batch first, as the embeddings are before clustering, so the few
    huge outlier dimensions of a decoder's states do not make every pair look alike; then cosine / temperature.
    A row's other view is its positive; every other view in the batch is a negative.
    """
    import torch
    import torch.nn.functional as F

    both = torch.cat([first, second])
    both = (both - both.mean(dim=0)) / both.std(dim=0).clamp(min=1e-6)
    both = F.normalize(both, dim=1)
    n = len(first)
    scores = both @ both.T / temperature
    scores = scores.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=scores.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(scores.device)
    return F.cross_entropy(scores, targets)


def contrastive_loss(model: Any, tokenizer: Any, *, view: View, temperature: float, max_length: int,
                     device: str = "cpu") -> Callable[[list[RowPair]], Any]:
    """loss(pairs): InfoNCE between the pooled states (`view`: layer and pooling, as embedded) of two views of
    each row in the batch."""

    def loss(pairs: list[RowPair]) -> Any:
        import torch

        if len(pairs) < 2:  # a lone row has no negatives: nothing to learn from it
            return torch.zeros((), requires_grad=True)
        rows = [first for first, _ in pairs] + [second for _, second in pairs]
        pooled = pooled_views(model, tokenizer, [row.text for row in rows], [view],
                              value_spans=[row.value_spans for row in rows], max_length=max_length,
                              device=device)[view]
        return info_nce(pooled[:len(pairs)], pooled[len(pairs):], temperature)

    return loss


def combined_loss(model: Any, tokenizer: Any, *, view: View, temperature: float, max_length: int,
                  device: str = "cpu") -> Callable[[list[RowPair]], Any]:
    """loss(pairs): the causal-LM loss on both views of each row plus the contrastive loss on their pooled states."""
    lm = causal_lm_loss(model, tokenizer, max_length=max_length, device=device)
    contrastive = contrastive_loss(model, tokenizer, view=view, temperature=temperature, max_length=max_length,
                                   device=device)

    def loss(pairs: list[RowPair]) -> Any:
        return lm([row.text for pair in pairs for row in pair]) + contrastive(pairs)

    return loss
