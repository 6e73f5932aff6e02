"""CACTUS's context-aware entity encoder: a pretrained encoder whose self-attention sees the other entities of a group.

The N entities of a group are encoded as a batch of N token sequences of length L (each keeps its own positions, so
the order inside an entity counts and the order of entities does not). In every layer a token's query attends to:

- NIA (no inter-entity attention): its own entity's tokens. Cost N·L² per layer: entities are encoded alone.
- SIA (scalable inter-entity attention, the paper's): its own entity's tokens plus one pooled vector (the mean of
  the layer's input over the entity's tokens) for each other entity. Cost N·L·(L + N).
- FIA (full inter-entity attention): every token of every entity of the group. Cost (N·L)².

Pooling commutes with the key and value projections (they are affine), so the pooled vectors' keys and values are
the means of the tokens' keys and values. The layers' own weights do everything else: `ContextEncoder` runs the
encoder's embeddings, then each layer's projections, output and feed-forward sub-modules around this attention.
Supported layer families: BERT-style (BERT, RoBERTa, MiniLM, E5, BGE...), MPNet and T5 encoders.
"""
from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from core.errors import SettingsError

ATTENTIONS = ("sia", "nia", "fia")


def check_attention(mode: str) -> None:
    if mode not in ATTENTIONS:
        raise SettingsError(f"attention must be one of {', '.join(ATTENTIONS)}, not {mode!r}.")


def key_mask(token_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Which keys each entity's tokens may attend to: a bool (N, K) tensor.

    Key layout per mode: NIA, the entity's own L token slots; SIA, its own L token slots then the pooled vectors of
    entities 0..N-1 (its own pooled vector is masked: it already sees its tokens); FIA, the L token slots of every
    entity, entity by entity. Padding slots are masked everywhere.
    """
    check_attention(mode)
    n, length = token_mask.shape
    if mode == "nia":
        return token_mask
    if mode == "sia":
        others = ~torch.eye(n, dtype=torch.bool, device=token_mask.device)
        return torch.cat([token_mask, others], dim=1)
    return token_mask.reshape(1, n * length).expand(n, n * length)


def pooled(states: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
    """Mean over each entity's real tokens: (N, H, L, d) -> (H, N, d)."""
    weights = token_mask.to(states.dtype)
    return torch.einsum("nl,nhld->hnd", weights / weights.sum(dim=1, keepdim=True), states)


def group_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, token_mask: torch.Tensor, mode: str, *,
                    scale: float, bias: torch.Tensor | None = None, cross_bias: torch.Tensor | None = None,
                    dropout: float = 0.0) -> torch.Tensor:
    """Attention of the N entities of one group under `mode`; q, k, v (N, H, L, d) -> (N, H, L, d).

    `bias` (N or 1, H, L, L) is a position bias within an entity (MPNet, T5); keys outside the entity get none.
    `cross_bias` (H,) is added to the scores of keys outside the entity (SIA's pooled slots, FIA's other tokens).
    """
    n, heads, length, dim = k.shape
    allowed = key_mask(token_mask, mode)
    if mode == "fia":
        return _full_group_attention(q, k, v, allowed[0], scale=scale, bias=bias, cross_bias=cross_bias,
                                     dropout=dropout)
    if mode == "nia":
        keys, values = k, v
    else:
        keys = torch.cat([k, pooled(k, token_mask).unsqueeze(0).expand(n, heads, n, dim)], dim=2)
        values = torch.cat([v, pooled(v, token_mask).unsqueeze(0).expand(n, heads, n, dim)], dim=2)
    mask = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device).masked_fill(~allowed, float("-inf"))
    mask = mask[:, None, None, :]
    if cross_bias is not None and mode == "sia":
        mask = mask + F.pad(torch.zeros(n, heads, 1, length, dtype=q.dtype, device=q.device), (0, n), value=1.0) \
            * cross_bias[None, :, None, None]
    if bias is not None:
        bias = bias.expand(n, heads, length, length)
        mask = mask + (F.pad(bias, (0, n)) if mode == "sia" else bias)
    return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, dropout_p=dropout, scale=scale)


def _full_group_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, real: torch.Tensor, *, scale: float,
                          bias: torch.Tensor | None, cross_bias: torch.Tensor | None, dropout: float) -> torch.Tensor:
    """FIA as one sequence of the group's N·L tokens (no per-entity copies of the keys); `real` (N·L,) bool."""
    n, heads, length, dim = q.shape

    def flat(states: torch.Tensor) -> torch.Tensor:
        return states.transpose(0, 1).reshape(1, heads, n * length, dim)

    mask = torch.zeros(n * length, dtype=q.dtype, device=q.device).masked_fill(~real, float("-inf"))
    mask = mask[None, None, None, :]
    own = torch.eye(n, dtype=q.dtype, device=q.device)
    if cross_bias is not None:
        outside = 1.0 - torch.kron(own, torch.ones(length, length, dtype=q.dtype, device=q.device))
        mask = mask + outside[None, None] * cross_bias[None, :, None, None]
    if bias is not None:  # the position bias within each entity, on the diagonal blocks
        blocks = bias.expand(n, heads, length, length).permute(1, 0, 2, 3)
        mask = mask + (blocks[:, :, :, None, :] * own[None, :, None, :, None]).reshape(1, heads, n * length,
                                                                                      n * length)
    out = F.scaled_dot_product_attention(flat(q), flat(k), flat(v), attn_mask=mask, dropout_p=dropout, scale=scale)
    return out.reshape(heads, n, length, dim).transpose(0, 1)


class _Bert:
    """Post-norm layers with attention.self.{query,key,value}: BERT, RoBERTa, MiniLM, ELECTRA, E5, BGE..."""

    @staticmethod
    def matches(model: Any) -> bool:
        layers = getattr(getattr(model, "encoder", None), "layer", None)
        return (bool(layers) and hasattr(model, "embeddings")
                and hasattr(getattr(layers[0].attention, "self", None), "query"))

    @staticmethod
    def layers(model):
        return model.encoder.layer

    @staticmethod
    def embed(model, input_ids):
        return model.embeddings(input_ids=input_ids)

    @staticmethod
    def position_bias(model, hidden):
        return None

    @staticmethod
    def attention_parts(layer):
        self_attention = layer.attention.self
        return (self_attention.query, self_attention.key, self_attention.value, self_attention.num_attention_heads,
                self_attention.dropout.p, self_attention.attention_head_size ** -0.5)

    @staticmethod
    def queries_from(layer, hidden):
        return hidden

    @staticmethod
    def finish(layer, context, hidden):
        attended = layer.attention.output(context, hidden)
        return layer.output(layer.intermediate(attended), attended)

    @staticmethod
    def final(model, hidden):
        return hidden


class _MPNet(_Bert):
    """MPNet: BERT-like post-norm layers with q/k/v/o names and a relative position bias shared by all layers."""

    @staticmethod
    def matches(model: Any) -> bool:
        layers = getattr(getattr(model, "encoder", None), "layer", None)
        return bool(layers) and hasattr(getattr(layers[0].attention, "attn", None), "q")

    @staticmethod
    def position_bias(model, hidden):
        return model.encoder.compute_position_bias(hidden)

    @staticmethod
    def attention_parts(layer):
        attention = layer.attention.attn
        return (attention.q, attention.k, attention.v, attention.num_attention_heads, attention.dropout.p,
                attention.attention_head_size ** -0.5)

    @staticmethod
    def finish(layer, context, hidden):
        attention = layer.attention
        attended = attention.LayerNorm(attention.dropout(attention.attn.o(context)) + hidden)
        return layer.output(layer.intermediate(attended), attended)


class _T5:
    """T5 encoders (Flan-T5, sentence-T5): pre-norm blocks, unscaled attention, relative bias from the first block."""

    @staticmethod
    def matches(model: Any) -> bool:
        blocks = getattr(getattr(model, "encoder", None), "block", None)
        return bool(blocks) and hasattr(blocks[0].layer[0], "SelfAttention")

    @staticmethod
    def layers(model):
        return model.encoder.block

    @staticmethod
    def embed(model, input_ids):
        return model.encoder.dropout(model.encoder.embed_tokens(input_ids))

    @staticmethod
    def position_bias(model, hidden):
        return model.encoder.block[0].layer[0].SelfAttention.compute_bias(hidden.shape[1], hidden.shape[1],
                                                                          device=hidden.device)

    @staticmethod
    def attention_parts(block):
        attention = block.layer[0].SelfAttention
        return attention.q, attention.k, attention.v, attention.n_heads, attention.dropout, 1.0

    @staticmethod
    def queries_from(block, hidden):
        return block.layer[0].layer_norm(hidden)

    @staticmethod
    def finish(block, context, hidden):
        hidden = hidden + block.layer[0].dropout(block.layer[0].SelfAttention.o(context))
        return block.layer[-1](hidden)

    @staticmethod
    def final(model, hidden):
        return model.encoder.dropout(model.encoder.final_layer_norm(hidden))


FAMILIES = (_MPNet, _Bert, _T5)


def family_of(model: Any) -> type:
    """The layer family of a loaded encoder, or a SettingsError naming the supported ones."""
    for family in FAMILIES:
        if family.matches(model):
            return family
    raise SettingsError(f"CACTUS's inter-entity attention works with BERT-style, MPNet and T5 encoders; "
                        f"{type(model).__name__} is none of them. Pick e.g. 'minilm', 'mpnet' or a T5 encoder.")


class ContextEncoder(nn.Module):
    """A pretrained encoder run layer by layer with NIA, SIA or FIA between the entities of one group.

    `forward(input_ids, token_mask)` takes one group's entities as (N, L) token ids and mask and returns their
    (N, hidden) embeddings: the mean of the last layer over each entity's tokens (as sentence-transformers pools).

    `cross_bias` holds one learned score offset per layer and head for keys outside the entity, starting at
    `context_bias` (*ours*): the pretrained layers never saw such keys, and at 0 a MiniLM token puts about 44% of
    its attention on a CLINC group's pooled vectors, so training starts far from the pretrained encoder. A negative
    start keeps the pretrained behaviour at first and lets training decide how much context to take.
    """

    def __init__(self, model: Any, attention: str = "sia", context_bias: float = 0.0) -> None:
        super().__init__()
        check_attention(attention)
        self.model = model
        self.attention = attention
        self.family = family_of(model)
        heads = [self.family.attention_parts(layer)[3] for layer in self.family.layers(model)]
        self.cross_bias = nn.Parameter(torch.full((len(heads), max(heads)), float(context_bias)))

    def forward(self, input_ids: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        family, mask = self.family, token_mask.bool()
        hidden = family.embed(self.model, input_ids)
        bias = family.position_bias(self.model, hidden)
        for index, layer in enumerate(family.layers(self.model)):
            query, key, value, heads, dropout, scale = family.attention_parts(layer)
            source = family.queries_from(layer, hidden)
            q, k, v = (_split_heads(projection(source), heads) for projection in (query, key, value))
            attend = functools.partial(group_attention, mode=self.attention, scale=scale, bias=bias,
                                       cross_bias=self.cross_bias[index, :heads],
                                       dropout=dropout if self.training else 0.0)
            if self.training and self.attention == "fia":
                # FIA's (N·L)² attention weights, kept for every layer, take gigabytes for a big group: recompute
                # them in the backward pass instead (the dropout masks are replayed).
                context = checkpoint(attend, q, k, v, mask, use_reentrant=False)
            else:
                context = attend(q, k, v, mask)
            hidden = family.finish(layer, context.transpose(1, 2).reshape(hidden.shape[0], hidden.shape[1], -1),
                                   hidden)
        hidden = family.final(self.model, hidden)
        weights = mask.to(hidden.dtype).unsqueeze(-1)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1)


def _split_heads(states: torch.Tensor, heads: int) -> torch.Tensor:
    n, length, width = states.shape
    return states.view(n, length, heads, width // heads).transpose(1, 2)
