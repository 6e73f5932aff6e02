"""CACTUS's training: the (augmented) triplet loss over a group, word-dropping self-supervision, and the training
loop over groups with progress, cancel and checkpoints.

Loss over one group with cosine similarities s and margin γ, triplets (anchor i, positive j, negative k):
- triplet: mean over i, j in i's cluster (j ≠ i), k outside it of max(0, γ + s_ik - s_ij).
- augmented: the same triplets plus a neutral entity whose similarity to every entity is a learned s₀; it is the
  negative for every same-cluster pair (s_ij must beat s₀) and the positive for every different-cluster pair
  (s₀ must beat s_ik). So every group teaches something, even one with a single cluster or only singletons, and
  all groups share one reference similarity for the threshold instead of each triplet finding its own margin.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.data.groups import EntityGroup
from core.errors import RunCancelled, SettingsError
from core.methods.cactus.attention import ContextEncoder
from core.train import Checkpoint

LOSSES = ("augmented", "triplet")
NEUTRAL_INIT = 0.5
NEUTRAL_LR = 1e-3  # one scalar; at the encoder's learning rate it would hardly move in a few hundred steps
CONTEXT_LR = 1e-2  # the attention offsets for other entities' keys: a few units of movement in a few hundred steps
CHECKPOINT_SECONDS = 60.0
StageProgress = Callable[[float, str], None]
"""progress(fraction of the stage done in [0, 1], message)."""


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


def self_supervised_groups(groups: Sequence[EntityGroup], rate: float, seed: int) -> Callable[[int], EntityGroup]:
    """group_at(index): word-dropped groups shaped like the training groups (their cluster sizes), seeds drawn from
    all training texts without their labels. The same index always gives the same group."""
    pool = sorted({text for group in groups for text in group.texts})
    shapes = [sorted(np.unique(np.asarray(group.clusters, dtype=str), return_counts=True)[1].tolist())
              for group in groups]

    def group_at(index: int) -> EntityGroup:
        rng = np.random.default_rng([seed, 7, index])
        return word_drop_group(pool, shapes[rng.integers(len(shapes))], rng, rate, f"self-supervised {index}")

    return group_at


def epoch_order(groups: Sequence[EntityGroup], seed: int) -> Callable[[int], EntityGroup]:
    """group_at(index): the groups epoch after epoch, each epoch in its own seeded order."""

    def group_at(index: int) -> EntityGroup:
        epoch, position = divmod(index, len(groups))
        return groups[int(np.random.default_rng([seed, epoch]).permutation(len(groups))[position])]

    return group_at


def train_stage(network: CactusNetwork, group_at: Callable[[int], EntityGroup], *, steps: int, batch_groups: int,
                lr: float, loss: str, margin: float, seed: int, checkpoint: Checkpoint | None = None,
                progress: StageProgress | None = None, should_stop: Callable[[], bool] | None = None) -> list[float]:
    """Train `network` in place for `steps` optimiser steps of `batch_groups` groups each; return the loss per step.

    Resumes from `checkpoint` and saves it at most once a minute and at the end. Dropout is reseeded per step, so a
    resumed stage trains exactly as an uninterrupted one. Raises RunCancelled between steps when asked to stop.
    """
    if loss not in LOSSES:
        raise SettingsError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}.")
    scalars = {"neutral": network.neutral, "encoder.cross_bias": network.encoder.cross_bias}
    weights = [p for name, p in network.named_parameters() if name not in scalars and p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": weights, "lr": lr},
                                   {"params": [network.neutral], "lr": NEUTRAL_LR, "weight_decay": 0.0},
                                   {"params": [network.encoder.cross_bias], "lr": CONTEXT_LR, "weight_decay": 0.0}])
    done, history = 0, {"loss": []}
    if checkpoint is not None and checkpoint.exists():
        done, history = checkpoint.load(network, optimizer, lora=False)
    network.train()
    started, saved, first = time.perf_counter(), time.perf_counter(), done
    for step in range(done, steps):
        if should_stop is not None and should_stop():
            raise RunCancelled(f"Training was cancelled at step {step + 1} of {steps}; it resumes from its checkpoint.")
        torch.manual_seed(seed * 1_000_003 + step)
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for index in range(step * batch_groups, (step + 1) * batch_groups):
            value = network.loss(group_at(index), loss, margin) / batch_groups
            value.backward()
            total += float(value.detach())
        optimizer.step()
        history["loss"].append(total)
        if checkpoint is not None and (time.perf_counter() - saved >= CHECKPOINT_SECONDS or step + 1 == steps):
            checkpoint.save(network, optimizer, step + 1, history, lora=False)
            saved = time.perf_counter()
        if progress is not None:
            left = (time.perf_counter() - started) / (step + 1 - first) * (steps - step - 1)
            progress((step + 1) / steps, f"step {step + 1}/{steps}, loss {np.mean(history['loss'][-20:]):.3f}, "
                                         f"{int(left // 60)} min {int(left % 60):02d} s left")
    network.eval()
    return history["loss"]
