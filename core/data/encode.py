"""Rows of a table written as short sentences ("bill length mm is 39.1, island is Torgersen") for text models.

This is the "column is value" serialization of ERASMO and of LLM-based table clustering: it lets a language model
or sentence embedder read records. Missing values are left out rather than written as "nan".
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

ELLIPSIS = "…"
_SPACES = re.compile(r"\s+")


def row_to_text(row: Mapping[str, Any], columns: Sequence[str], *, max_chars_per_value: int = 200) -> str:
    """One row as "<column> is <value>" clauses joined by ", ", in the order of `columns`, skipping missing values."""
    clauses = []
    for column in columns:
        value = format_value(row.get(column), max_chars=max_chars_per_value)
        if value:
            clauses.append(f"{clean_column_name(column)} is {value}")
    return ", ".join(clauses)


def rows_to_texts(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    order: np.random.Generator | int | None = None,
    max_chars_per_value: int = 200,
) -> list[str]:
    """Every row of `frame` as text. `order` None keeps the column order; a Generator or seed shuffles it per row.

    Shuffling the clause order (as ERASMO does when fine-tuning) stops a model from learning column positions.
    """
    columns = list(frame.columns if columns is None else columns)
    rng = None if order is None else np.random.default_rng(order)
    texts = []
    for row in frame[columns].to_dict("records"):
        row_columns = columns if rng is None else [columns[i] for i in rng.permutation(len(columns))]
        texts.append(row_to_text(row, row_columns, max_chars_per_value=max_chars_per_value))
    return texts


def clean_column_name(column: str) -> str:
    """A column name as words: underscores and dashes become spaces, runs of spaces collapse."""
    return _SPACES.sub(" ", re.sub(r"[_-]", " ", str(column))).strip()


def format_value(value: Any, *, max_chars: int = 200) -> str:
    """A value as short text: "" for missing, 42 not 42.0, 39.1 not 39.100000001, long strings cut with "…"."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        text = str(bool(value))
    elif isinstance(value, Integral):
        text = str(int(value))
    elif isinstance(value, Real):
        if math.isnan(value):
            return ""
        text = str(value) if math.isinf(value) else np.format_float_positional(value, trim="-")
    else:
        text = _SPACES.sub(" ", str(value)).strip()
    if len(text) > max_chars:
        text = text[: max(max_chars - 1, 0)].rstrip() + ELLIPSIS
    return text
