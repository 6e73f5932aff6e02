"""Exports: cluster labels as CSV (safe to open in a spreadsheet), embeddings, and the run's settings."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise_formula(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula (=, +, -, @, tab, CR) with a quote (OWASP advice)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def labels_frame(frame: pd.DataFrame, labels: np.ndarray, *, column: str = "cluster") -> pd.DataFrame:
    """The data with its cluster label as the first column (-1 marks HDBSCAN's noise)."""
    if len(frame) != len(labels):
        raise ValueError(f"{len(labels)} labels for {len(frame)} rows")
    name = column
    while name in frame.columns:
        name = f"_{name}"
    out = frame.reset_index(drop=True).copy()
    out.insert(0, name, np.asarray(labels).astype(int))
    return out


def labels_csv(frame: pd.DataFrame, labels: np.ndarray) -> bytes:
    """CSV bytes of `labels_frame`, with every text cell defused against formula injection."""
    return defused_csv(labels_frame(frame, labels))


def defused_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes of a frame with every text cell and header defused against spreadsheet formula injection."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise_formula)
    out.columns = [neutralise_formula(str(column)) for column in out.columns]
    return out.to_csv(index=False).encode("utf-8")


def embeddings_npy(embeddings: np.ndarray) -> bytes:
    """The embedding matrix as a .npy file (load with numpy.load)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(embeddings, dtype=np.float32))
    return buffer.getvalue()
