"""The embedding cache: the same text is never embedded twice by the same model, across cache instances."""
import numpy as np
import pytest

from core.embed.cache import CachedEmbedder, EmbeddingCache, text_hash
from core.embed.registry import describe_embedder, resolve_embedder
from core.errors import ModelUnavailableError


def test_cached_embedder_embeds_each_unseen_text_once(tmp_path, fake_embedder):
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    first = CachedEmbedder(fake_embedder, cache).encode(["a b", "c d", "a b"])
    assert fake_embedder.calls == [["a b", "c d"]]  # duplicate inside one call embedded once
    again = CachedEmbedder(fake_embedder, EmbeddingCache(tmp_path / "e.sqlite"))
    second = again.encode(["c d", "e f", "a b"])
    assert fake_embedder.calls[-1] == ["e f"]  # only the new text, even through a new cache object
    assert again.last_misses_ == 1
    np.testing.assert_allclose(second[0], first[1])
    np.testing.assert_allclose(second[2], first[0])


def test_cache_is_keyed_by_model(tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    cache.put_many("model-a", {text_hash("x"): np.ones(3)})
    assert cache.get_many("model-b", [text_hash("x")]) == {}
    assert cache.count("model-a") == 1


def test_unknown_embedder_name_gives_clear_error():
    with pytest.raises(ModelUnavailableError, match="Unknown embedding model"):
        describe_embedder("no such model")


def test_huggingface_id_is_not_fetched_offline(tmp_path):
    embedder = resolve_embedder("someone/definitely-not-a-real-model-xyz", cache=EmbeddingCache(tmp_path / "c.sqlite"))
    with pytest.raises(ModelUnavailableError, match="Could not load"):
        embedder.encode(["hello"])


def test_offline_minilm_embeds_real_text(tmp_path):
    embedder = resolve_embedder("minilm", cache=EmbeddingCache(tmp_path / "c.sqlite"))
    vectors = embedder.encode(["my card has not arrived", "where is my card", "I love pizza"])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
