"""Seeding: the same seed gives the same model, and a resumed run trains as an uninterrupted one would."""
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
