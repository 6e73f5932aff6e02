"""The Embedder interface and its sentence-transformers implementation."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
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


def available_cores() -> int:
    """CPU cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder or a Hugging Face id, loaded on first use.

    On the CPU, torch computes with `threads` threads (default: every core this process may use; torch's own default
    counts the machine's cores, which oversubscribes a process pinned to fewer)."""

    def __init__(self, model: str, *, name: str | None = None, device: str = "cpu", batch_size: int = 64,
                 offline: bool = True, threads: int | None = None) -> None:
        self.model = model
        self.name = name or model
        self.device = device
        self.batch_size = batch_size
        self.offline = offline
        self.threads = threads
        self._loaded = None
        self._lock = threading.Lock()

    def load(self):
        """The underlying SentenceTransformer, loaded once (thread-safe)."""
        with self._lock:
            if self._loaded is None:
                if self.device == "cpu":
                    import torch

                    torch.set_num_threads(self.threads or available_cores())
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


def folder_fingerprint(folder: Path) -> str:
    """Short content key of a local model folder (weight file sizes and times), so a changed model misses the cache."""
    stamp = hashlib.sha256(str(folder.resolve()).encode())
    for weights in sorted(folder.rglob("*.safetensors")) + sorted(folder.rglob("*.bin")):
        info = weights.stat()
        stamp.update(f"{weights.name}:{info.st_size}:{info.st_mtime_ns}".encode())
    return stamp.hexdigest()[:16]


def transformer_folder(folder: Path) -> Path:
    """Where a sentence-transformers folder keeps its transformer (the root for MiniLM and MPNet)."""
    modules = folder / "modules.json"
    if modules.exists():
        for module in json.loads(modules.read_text()):
            if module.get("type", "").endswith("Transformer"):
                return folder / module.get("path", "")
    return folder
