"""Embedders: the interface, the offline model registry and the content-hash cache."""
from core.embed.base import Embedder, SentenceTransformerEmbedder
from core.embed.cache import CachedEmbedder, EmbeddingCache, text_hash
from core.embed.registry import DEFAULT_EMBEDDER, OFFLINE_MODELS, resolve_embedder, setup_mpnet

__all__ = ["Embedder", "SentenceTransformerEmbedder", "CachedEmbedder", "EmbeddingCache", "text_hash",
           "DEFAULT_EMBEDDER", "OFFLINE_MODELS", "resolve_embedder", "setup_mpnet"]
