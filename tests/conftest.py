"""Shared fixtures: an isolated ClusterLens home per test session and a fake embedder for fast unit tests."""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile

import numpy as np
import pytest

if "CLUSTERLENS_HOME" not in os.environ:
    # A session's home holds a gigabyte or more (assembled models, exports, runs): removed when the session ends,
    # or test sessions fill the disk (and a full disk fails the runs of the next one).
    os.environ["CLUSTERLENS_HOME"] = tempfile.mkdtemp(prefix="clusterlens-test-home-")
    atexit.register(shutil.rmtree, os.environ["CLUSTERLENS_HOME"], ignore_errors=True)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class BagOfWordsEmbedder:
    """A fake embedder: hashed bag of words, L2-normalised. Texts sharing words land close together."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"fake-bow-{dim}"
        self.calls: list[list[str]] = []

    def encode(self, texts, progress=None):
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        out += 1e-6
        if progress:
            progress(len(texts), len(texts))
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def fake_embedder() -> BagOfWordsEmbedder:
    return BagOfWordsEmbedder()


@pytest.fixture
def topic_texts() -> tuple[list[str], list[str]]:
    """60 short texts in three obvious topics, with their labels."""
    topics = {
        "card": ["my card has not arrived yet", "where is my new card", "card delivery is late again",
                 "still waiting for the card", "track my card delivery please"],
        "refund": ["i want a refund for my order", "refund has not reached my account", "how long does a refund take",
                   "please refund the duplicate payment", "refund request for a cancelled order"],
        "password": ["i forgot my password", "reset my password please", "password reset link expired",
                     "cannot log in with my password", "change the password on my account"],
    }
    texts, labels = [], []
    for repeat in range(4):
        for topic, items in topics.items():
            for item in items:
                texts.append(f"{item} {'!' * repeat}".strip())
                labels.append(topic)
    return texts, labels
