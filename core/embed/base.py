"""The Embedder interface and its sentence-transformers implementation."""
from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from core.errors import ModelUnavailableError

BatchProgress = Callable[[int, int], None]
"""Called as progress(done, total) while a long list is embedded."""


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into one vector each. `name` identifies the model for the cache."""

    name: str

    def encode(self, texts: list[str], progress: BatchProgress | None = None) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dim), rows L2-normalised."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder or a Hugging Face id, loaded on first use."""

    def __init__(self, model: str, *, name: str | None = None, device: str = "cpu", batch_size: int = 64,
                 offline: bool = True) -> None:
        self.model = model
        self.name = name or model
        self.device = device
        self.batch_size = batch_size
        self.offline = offline
        self._loaded = None
        self._lock = threading.Lock()

    def load(self):
        """The underlying SentenceTransformer, loaded once (thread-safe)."""
        with self._lock:
            if self._loaded is None:
                self._loaded = load_sentence_transformer(self.model, device=self.device, offline=self.offline)
        return self._loaded

    def encode(self, texts: list[str], progress: BatchProgress | None = None) -> np.ndarray:
        model = self.load()
        chunks: list[np.ndarray] = []
        chunk = max(self.batch_size * 8, 256)
        for start in range(0, len(texts), chunk):
            part = texts[start:start + chunk]
            chunks.append(model.encode(part, batch_size=self.batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False))
            if progress:
                progress(min(start + chunk, len(texts)), len(texts))
        if not chunks:
            return np.zeros((0, self.dimension()), dtype=np.float32)
        return np.vstack(chunks).astype(np.float32)

    def dimension(self) -> int:
        """Length of the vectors this model produces."""
        return int(self.load().get_embedding_dimension())


def load_sentence_transformer(model: str, *, device: str = "cpu", offline: bool = True):
    """Load a SentenceTransformer from disk, or from the hub when `offline` is False and the hub answers quickly.

    Any failure becomes ModelUnavailableError: the hub and file errors vary by version, and all of them mean
    "this model cannot be had here".
    """
    from sentence_transformers import SentenceTransformer

    try:
        try:
            return SentenceTransformer(model, device=device, local_files_only=True)
        except Exception:
            if offline or not hub_reachable():
                raise
            return SentenceTransformer(model, device=device)
    except Exception as exc:
        raise ModelUnavailableError(
            f"Could not load the embedding model {model!r} ({type(exc).__name__}: {str(exc)[:200]}). "
            "Use an installed model (e.g. 'minilm'), a local sentence-transformers folder, "
            "or a Hugging Face id on a machine that can reach the hub."
        ) from exc


@functools.cache
def hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers within a few seconds (checked once per process)."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])
