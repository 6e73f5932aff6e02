"""Exported embedders: a tiny sentence-transformers model exported to ONNX gives torch's vectors, and a backend that
cannot run says what to do instead of failing inside a library."""
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from core.embed.backends import ExportedEmbedder, export_folder  # noqa: E402
from core.embed.base import SentenceTransformerEmbedder  # noqa: E402
from core.embed.registry import minilm_path  # noqa: E402
from core.errors import ModelUnavailableError  # noqa: E402

TEXTS = ["my card has not arrived yet", "how do I reset my pin", "a",
         "the exchange rate I was charged looks wrong and I would like someone to check it for me please",
         "top up failed twice"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A two-layer, 32-wide BERT with MiniLM's tokenizer, mean pooling and normalisation, seeded: a sentence-
    transformers folder that exports in seconds."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    root = tmp_path_factory.mktemp("tiny")
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    transformer = models.Transformer(str(root / "bert"), max_seq_length=64)
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    folder = root / "tiny-st"
    SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu").save(str(folder))
    return folder


def test_onnx_vectors_match_torch(tiny_model):
    expected = SentenceTransformerEmbedder(str(tiny_model), batch_size=2).encode(TEXTS)
    exported = ExportedEmbedder(str(tiny_model), backend="onnx", batch_size=2)
    got = exported.encode(TEXTS)
    assert got.shape == expected.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(got, expected, atol=1e-4)  # row order survives the sort by length
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert (export_folder(tiny_model) / "model.onnx").is_file() and exported.dimension() == 32


def test_an_unknown_backend_names_the_ones_there_are(tiny_model):
    with pytest.raises(ModelUnavailableError, match="onnx-int8"):
        ExportedEmbedder(str(tiny_model), backend="tensorrt")


def test_a_backend_whose_package_is_missing_says_how_to_get_it(tiny_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if onnxruntime were not installed
    with pytest.raises(ModelUnavailableError, match="pip install onnxruntime"):
        ExportedEmbedder(str(tiny_model), backend="onnx").encode(TEXTS)
