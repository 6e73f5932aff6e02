"""Rows of a table written as short sentences ("bill length mm is 39.1, island is Torgersen") for text models.

This is the "column is value" serialization of ERASMO and of LLM-based table clustering: it lets a language model
or sentence embedder read records. Missing values are left out rather than written as "nan". Numbers can be written
as words ("forty-two point five", ERASMO-NV) or as the column's quantile bin ("age is high") through a verbalizer.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from numbers import Integral, Real
from typing import Any, Protocol

import numpy as np
import pandas as pd

from core.errors import SettingsError

ELLIPSIS = "…"
CLAUSE_SEPARATOR = ", "
VERBALIZERS = ("words", "bins")
_SPACES = re.compile(r"\s+")


class Verbalizer(Protocol):
    """Writes one cell as text ("" when missing); lets the encoder swap how numbers are said."""

    def __call__(self, column: str, value: Any, *, max_chars: int = 200) -> str:
        ...


@dataclass(frozen=True)
class EncodedRow:
    """A row's text and the character spans of its values, so a model can pool over value tokens only."""

    text: str
    value_spans: tuple[tuple[int, int], ...]


def encode_row(row: Mapping[str, Any], columns: Sequence[str], *, max_chars_per_value: int = 200,
               verbalizer: Verbalizer | None = None) -> EncodedRow:
    """One row as "<column> is <value>" clauses in the order of `columns`, skipping missing values."""
    say = verbalizer or _plain_value
    text, spans = "", []
    for column in columns:
        value = say(column, row.get(column), max_chars=max_chars_per_value)
        if not value:
            continue
        if text:
            text += CLAUSE_SEPARATOR
        text += f"{clean_column_name(column)} is "
        spans.append((len(text), len(text) + len(value)))
        text += value
    return EncodedRow(text, tuple(spans))


def row_to_text(row: Mapping[str, Any], columns: Sequence[str], *, max_chars_per_value: int = 200,
                verbalizer: Verbalizer | None = None) -> str:
    """One row as "<column> is <value>" clauses joined by ", ", in the order of `columns`, skipping missing values."""
    return encode_row(row, columns, max_chars_per_value=max_chars_per_value, verbalizer=verbalizer).text


def encode_rows(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    order: np.random.Generator | int | None = None,
    drop: float = 0.0,
    max_chars_per_value: int = 200,
    verbalizer: Verbalizer | None = None,
) -> list[EncodedRow]:
    """Every row of `frame` encoded. `order` None keeps the column order; a Generator or seed shuffles it per row.

    Shuffling the clause order (as ERASMO does when fine-tuning) stops a model from learning column positions;
    the fixed order gives the same text, hence the same embedding, for the same row every time. `drop` (with a
    shuffling `order`) leaves each column out with that probability, keeping at least one: a partial view of the row.
    """
    columns = list(frame.columns if columns is None else columns)
    rng = None if order is None else np.random.default_rng(order)
    if drop and rng is None:
        raise SettingsError("Dropping clauses needs a random `order` (a Generator or a seed).")
    encoded = []
    for row in frame[columns].to_dict("records"):
        row_columns = columns if rng is None else [columns[i] for i in rng.permutation(len(columns))]
        if drop:
            kept = rng.random(len(row_columns)) >= drop
            if not kept.any():
                kept[int(rng.integers(len(row_columns)))] = True
            row_columns = [column for column, keep in zip(row_columns, kept) if keep]
        encoded.append(encode_row(row, row_columns, max_chars_per_value=max_chars_per_value, verbalizer=verbalizer))
    return encoded


def rows_to_texts(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    order: np.random.Generator | int | None = None,
    max_chars_per_value: int = 200,
    verbalizer: Verbalizer | None = None,
) -> list[str]:
    """Every row of `frame` as text (see `encode_rows` for `order`)."""
    return [row.text for row in encode_rows(frame, columns, order=order, max_chars_per_value=max_chars_per_value,
                                            verbalizer=verbalizer)]


class NumberWords:
    """Numbers as English words via num2words (42.5 -> "forty-two point five"); other values as `format_value`.

    The digits shown are those of `format_value` (39.1, not 39.100000000000001), and num2words' thousands commas
    are dropped so they cannot be mistaken for the clause separator.
    """

    def __call__(self, column: str, value: Any, *, max_chars: int = 200) -> str:
        text = format_value(value, max_chars=max_chars)
        if not _is_number(value) or not text or math.isinf(float(value)):
            return text
        from num2words import num2words

        return num2words(Decimal(text)).replace(",", "")


class NumberBins:
    """Numbers as the quantile bin of their column ("body mass g is high"), learned by `fit`.

    Terciles by default; bins are said "low / medium / high" (3) or "very low … very high" (5), else "bin i of n".
    Columns that were not numeric at fit time are written as `format_value` writes them.
    """

    NAMES = {3: ("low", "medium", "high"), 5: ("very low", "low", "medium", "high", "very high")}

    def __init__(self, n_bins: int = 3) -> None:
        self.n_bins = n_bins

    def fit(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> "NumberBins":
        if self.n_bins < 2:
            raise SettingsError(f"Number bins need at least 2 bins, not {self.n_bins}.")
        columns = list(frame.columns if columns is None else columns)
        self.edges_: dict[str, np.ndarray] = {}
        for column in columns:
            series = frame[column]
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                values = series.to_numpy(dtype=float)
                values = values[np.isfinite(values)]
                if values.size:
                    self.edges_[column] = np.quantile(values, np.linspace(0, 1, self.n_bins + 1)[1:-1])
        self.names_ = self.NAMES.get(self.n_bins, tuple(f"bin {i + 1} of {self.n_bins}" for i in range(self.n_bins)))
        return self

    def __call__(self, column: str, value: Any, *, max_chars: int = 200) -> str:
        text = format_value(value, max_chars=max_chars)
        if column not in self.edges_ or not _is_number(value) or not text:
            return text
        return self.names_[int(np.searchsorted(self.edges_[column], float(value), side="right"))]


def make_verbalizer(kind: str | None, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> Verbalizer | None:
    """The verbalizer for a setting: None (digits), "words" (num2words) or "bins" (terciles fitted on `frame`)."""
    if kind is None or kind == "":
        return None
    if kind == "words":
        return NumberWords()
    if kind == "bins":
        return NumberBins().fit(frame, columns)
    raise SettingsError(f"verbalize must be one of {', '.join(VERBALIZERS)} or empty, not {kind!r}.")


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def _plain_value(column: str, value: Any, *, max_chars: int = 200) -> str:
    return format_value(value, max_chars=max_chars)


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
