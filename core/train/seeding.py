"""Seeding: the same seed gives the same model, and a resumed run trains as an uninterrupted one would.

Randomness in training depends only on where it happens: an epoch's shuffles on (seed, epoch), a step's dropout
masks on (seed, epoch, step). No state carries over from one step to the next, so nothing but the position needs
saving to resume exactly.
"""
from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch, so the same seed gives the same model and the same embeddings."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_generator(seed: int, epoch: int) -> np.random.Generator:
    """The generator of one epoch's shuffles; depends only on (seed, epoch) so resuming repeats it."""
    return np.random.default_rng([seed, epoch])


def seed_step(seed: int, epoch: int, step: int) -> None:
    """Seed torch for one optimiser step (dropout masks) from (seed, epoch, step) alone."""
    import torch

    torch.manual_seed(int(np.random.SeedSequence([seed, epoch, step]).generate_state(1)[0]))
