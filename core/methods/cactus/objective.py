"""CACTUS's objective: the (augmented) triplet loss over a group, the network it trains, and word-dropping
self-supervision. Training itself is core.train's loop, one group per batch.

Loss over one group with cosine similarities s and margin γ, triplets (anchor i, positive j, negative k):
- triplet: mean over i, j in i's cluster (j ≠ i), k outside it of max(0, γ + s_ik - s_ij).
- augmented: the same triplets plus a neutral entity whose similarity to every entity is a learned s₀; it is the
  negative for every same-cluster pair (s_ij must beat s₀) and the positive for every different-cluster pair
  (s₀ must beat s_ik). So every group teaches something, even one with a single cluster or only singletons, and
  all groups share one reference similarity for the threshold instead of each triplet finding its own margin.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.data.groups import EntityGroup
from core.methods.cactus.attention import ContextEncoder

NEUTRAL_INIT = 0.5
NEUTRAL_LR = 1e-3  # one scalar; at the encoder's learning rate it would hardly move in a few hundred steps
CONTEXT_LR = 1e-2  # the attention offsets for other entities' keys: a few units of movement in a few hundred steps


def pair_masks(clusters: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(same, different): (N, N) bool masks of pairs in one cluster (the diagonal left out) and across clusters."""
    same = clusters[:, None] == clusters[None, :]
    return same & ~torch.eye(len(clusters), dtype=torch.bool, device=clusters.device), ~same


def triplet_loss(sim: torch.Tensor, clusters: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean hinge over the group's triplets; zero (still differentiable) when it has none."""
    same, different = pair_masks(clusters)
    triplets = same[:, :, None] & different[:, None, :]  # [i, j, k]
    if not triplets.any():
        return sim.sum() * 0.0
    hinge = F.relu(margin + sim[:, None, :] - sim[:, :, None])  # [i, j, k] = γ + s_ik - s_ij
    return hinge[triplets].mean()


def augmented_triplet_loss(sim: torch.Tensor, clusters: torch.Tensor, neutral: torch.Tensor,
                           margin: float) -> torch.Tensor:
    """Mean hinge over the group's triplets and the neutral entity's: (i, j, neutral) and (i, neutral, k)."""
    same, different = pair_masks(clusters)
    triplets = same[:, :, None] & different[:, None, :]
    hinge = F.relu(margin + sim[:, None, :] - sim[:, :, None])[triplets]
    above = F.relu(margin + neutral - sim[same])  # same-cluster pairs must beat the neutral similarity
    below = F.relu(margin + sim[different] - neutral)  # the neutral similarity must beat different-cluster pairs
    count = hinge.numel() + above.numel() + below.numel()
    if count == 0:
        return sim.sum() * 0.0 + neutral * 0.0
    return (hinge.sum() + above.sum() + below.sum()) / count


def cluster_codes(clusters: Sequence[object]) -> torch.Tensor:
    """A group's cluster ids as integer codes."""
    return torch.as_tensor(np.unique(np.asarray(clusters, dtype=str), return_inverse=True)[1].ravel())


class CactusNetwork(nn.Module):
    """The context encoder, its tokenizer and the learned neutral similarity: texts of one group -> unit vectors."""

    def __init__(self, encoder: ContextEncoder, tokenizer: Any, max_tokens: int = 32) -> None:
        super().__init__()
        # The word embeddings stay as pretrained (*ours*): a third of MiniLM's weights, slow to update, and tuning
        # them to the training groups' words would not carry over to new entities.
        encoder.model.get_input_embeddings().weight.requires_grad_(False)
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.neutral = nn.Parameter(torch.tensor(NEUTRAL_INIT))

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        device = self.neutral.device
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_tokens,
                               return_tensors="pt")
        vectors = self.encoder(batch["input_ids"].to(device), batch["attention_mask"].to(device))
        return F.normalize(vectors, dim=-1)

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """AdamW groups: the encoder's trainable weights at `lr`, the neutral similarity and the other-entity offsets
        at their own rates and without weight decay."""
        scalars = {"neutral", "encoder.cross_bias"}
        weights = [p for name, p in self.named_parameters() if name not in scalars and p.requires_grad]
        return [{"params": weights, "lr": lr},
                {"params": [self.neutral], "lr": NEUTRAL_LR, "weight_decay": 0.0},
                {"params": [self.encoder.cross_bias], "lr": CONTEXT_LR, "weight_decay": 0.0}]

    def loss(self, group: EntityGroup, kind: str, margin: float) -> torch.Tensor:
        vectors = self(group.texts)
        sim = vectors @ vectors.T
        clusters = cluster_codes(group.clusters).to(sim.device)
        if kind == "augmented":
            return augmented_triplet_loss(sim, clusters, self.neutral, margin)
        return triplet_loss(sim, clusters, margin)


def drop_words(text: str, rng: np.random.Generator, rate: float) -> str:
    """The text with each word dropped with probability `rate` (at least one word is kept)."""
    words = text.split()
    if len(words) < 2:
        return text
    keep = rng.random(len(words)) >= rate
    if not keep.any():
        keep[rng.integers(len(words))] = True
    return " ".join(word for word, kept in zip(words, keep) if kept)


def word_drop_group(pool: Sequence[str], sizes: Sequence[int], rng: np.random.Generator, rate: float,
                    name: str) -> EntityGroup:
    """A synthetic labelled group: one seed text per cluster, its members copies of the seed with words dropped."""
    seeds = rng.choice(len(pool), size=min(len(sizes), len(pool)), replace=False)
    members = [(drop_words(pool[seed], rng, rate), str(number))
               for number, (seed, size) in enumerate(zip(seeds, sizes)) for _ in range(size)]
    order = rng.permutation(len(members))
    return EntityGroup(name, tuple(members[i][0] for i in order), tuple(members[i][1] for i in order))


class SelfSupervisedGroups(Sequence[EntityGroup]):
    """`count` word-dropped groups shaped like the training groups (their cluster sizes), seeds drawn from all
    training texts without their labels. Each is made when read, and the same index always gives the same group."""

    def __init__(self, groups: Sequence[EntityGroup], rate: float, seed: int, count: int) -> None:
        self.pool = sorted({text for group in groups for text in group.texts})
        self.shapes = [sorted(np.unique(np.asarray(group.clusters, dtype=str), return_counts=True)[1].tolist())
                       for group in groups]
        self.rate = rate
        self.seed = seed
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> EntityGroup:  # type: ignore[override]  (no slices: read one by one)
        if not 0 <= index < self.count:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, 7, index])
        shape = self.shapes[rng.integers(len(self.shapes))]
        return word_drop_group(self.pool, shape, rng, self.rate, f"self-supervised {index}")
