"""Exports: labels CSV defused against spreadsheet formula injection."""
import io

import numpy as np
import pandas as pd

from core.export import embeddings_npy, labels_csv, neutralise_formula


def test_formula_cells_are_prefixed():
    assert neutralise_formula("=SUM(A1:A3)") == "'=SUM(A1:A3)"
    assert neutralise_formula("@cmd") == "'@cmd"
    assert neutralise_formula("+1") == "'+1"
    assert neutralise_formula("plain") == "plain"
    assert neutralise_formula(-3) == -3  # numbers stay numbers


def test_labels_csv_has_cluster_first_and_is_safe():
    frame = pd.DataFrame({"text": ["=HYPERLINK(\"http://x\")", "fine"], "cluster": ["a", "b"]})
    out = pd.read_csv(io.BytesIO(labels_csv(frame, np.array([1, 0]))))
    assert list(out.columns) == ["_cluster", "text", "cluster"]
    assert out["_cluster"].tolist() == [1, 0]
    assert out["text"][0].startswith("'=")


def test_embeddings_round_trip():
    vectors = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(np.load(io.BytesIO(embeddings_npy(vectors))), vectors.astype(np.float32))
