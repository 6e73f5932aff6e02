"""Exports: cluster labels as CSV (safe to open in a spreadsheet), embeddings, and the run's settings."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""OWASP's list, and its full-width forms, which some spreadsheets in East Asian locales also run."""


def neutralise_formula(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula (=, +, -, @, tab, CR, also after leading spaces, which
    an import may trim) with a quote (OWASP advice)."""
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_STARTS):
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
    """CSV bytes of `labels_frame` (RFC 4180 line ends), with every text cell and column name defused against
    formula injection."""
    return defused_csv(labels_frame(frame, labels))


def defused_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes of a frame (RFC 4180 line ends) with every text cell and header defused against spreadsheet formula
    injection."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise_formula)
    out.columns = [neutralise_formula(str(column)) for column in out.columns]
    # CRLF line ends make the csv writer quote any cell holding a CR: unquoted, a CR splits the row in a spreadsheet
    # and puts the rest of the cell, undefused, at the start of a new one.
    return out.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def embeddings_npy(embeddings: np.ndarray) -> bytes:
    """The embedding matrix as a .npy file (load with numpy.load)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(embeddings, dtype=np.float32))
    return buffer.getvalue()
