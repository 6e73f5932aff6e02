"""Loading models to fine-tune: a private copy of a sentence-transformers model, and a bare Hugging Face encoder.

Embedding through the content cache is `registry.resolve_embedder`; the functions here are for methods that change
the weights (ClusterLLM fine-tunes a sentence embedder, CACTUS wraps an encoder's layers), so they never touch the
shared, cached models.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from core.embed.base import hub_reachable, transformer_folder
from core.embed.registry import describe_embedder
from core.errors import ModelUnavailableError, SettingsError


def trainable_model(embedder: Any) -> Any:
    """A private copy of the sentence-transformers model behind an embedder (so shared, cached models stay intact)."""
    from sentence_transformers import SentenceTransformer

    if isinstance(embedder, SentenceTransformer):
        return copy.deepcopy(embedder)
    if hasattr(embedder, "load"):  # SentenceTransformerEmbedder
        return copy.deepcopy(embedder.load())
    if hasattr(embedder, "embedder"):  # CachedEmbedder
        return trainable_model(embedder.embedder)
    raise SettingsError(f"This method fine-tunes a sentence-transformers model; {type(embedder).__name__} is not "
                        "one. Pick an installed embedder such as 'minilm', a local model folder or a Hugging Face id.")


def encode_with(model: Any, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised float32 embeddings from a SentenceTransformer, bypassing the content cache (its weights changed)."""
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


def load_encoder(spec: str, device: str = "cpu") -> tuple[Any, Any]:
    """(encoder, tokenizer) for an encoder setting: "minilm", "mpnet", a folder or a Hugging Face id.

    T5 checkpoints load as their encoder only. Any failure to load is a ModelUnavailableError.
    """
    from transformers import AutoConfig, AutoModel, AutoTokenizer, T5EncoderModel

    source, _, offline = describe_embedder(spec)
    if Path(source).is_dir():
        source = str(transformer_folder(Path(source)))
    local_only = offline or not hub_reachable()
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=local_only)
        loader = T5EncoderModel if config.model_type in ("t5", "mt5") else AutoModel
        model = loader.from_pretrained(source, local_files_only=local_only)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
    except Exception as exc:
        raise ModelUnavailableError(
            f"Could not load the encoder {spec!r} ({type(exc).__name__}: {str(exc)[:200]}). Use an installed model "
            "('minilm', 'mpnet'), a local model folder, or a Hugging Face id on a machine that can reach the hub."
        ) from exc
    return model.to(device), tokenizer
