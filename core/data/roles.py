"""Guessing what each column is for, so an analyst starts from a sensible proposal and only corrects it.

Roles come from `core.data.dataset.ROLES`. "group" is never guessed: splitting rows into groups is a choice the
analyst makes. Dates are marked "ignore": as raw timestamps they are neither a distance-friendly number nor a
category, and turning them into features (weekday, season...) is a decision, not a default.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
    is_object_dtype,
    is_string_dtype,
)

LABEL_NAMES = frozenset({"label", "labels", "class", "category", "intent", "target", "topic", "species", "y"})
ID_WORDS = frozenset({"id", "uuid", "guid", "key", "index", "idx"})
TEXT_NAMES = frozenset({"text", "texts", "message", "sentence", "document", "utterance", "comment", "review", "body"})

LABEL_MAX_UNIQUE_SHARE = 0.5  # a label repeats: at most half of its values are distinct
TEXT_MIN_UNIQUE_SHARE = 0.5  # documents rarely repeat; long strings that do are categories
TEXT_MIN_MEAN_CHARS = 25
TEXT_MIN_MEAN_WORDS = 4
SAMPLE_SIZE = 2000  # length and date checks look at this many values, enough to judge and fast on big files

_DATE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"
    r"|\d{1,2}[/.]\d{1,2}[/.]\d{2}(\d{2})?"
)
_NAME_TOKENS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def infer_roles(frame: pd.DataFrame) -> dict[str, str]:
    """A role for every column of `frame`, guessed from its name and values (see `infer_role`)."""
    return {column: infer_role(str(column), frame[column]) for column in frame.columns}


def infer_role(name: str, series: pd.Series) -> str:
    """The role of one column. Checks run from the most to the least specific:

    empty, constant or date → "ignore"; named like a label and repeating → "label"; booleans → "categorical";
    named like an id → "id" when unique, else "ignore" (a reference such as customer_id); integers counting up
    from 0 or 1 → "id"; numbers (or strings that parse as numbers) → "numeric", however few distinct values;
    long or text-named, mostly distinct strings → "text"; other all-distinct strings → "id";
    the rest → "categorical".
    """
    present = series.dropna()
    if present.empty or series.nunique(dropna=False) == 1 or _is_date(series):
        return "ignore"
    unique_share = present.nunique() / len(present)
    if name.strip().lower() in LABEL_NAMES and unique_share <= LABEL_MAX_UNIQUE_SHARE:
        return "label"
    if _is_bool(series, present):
        return "categorical"
    numbers = as_numbers(series)
    is_unique = len(present) == len(series) and present.is_unique
    integer_like = numbers is not None and _integer_like(numbers)
    if _id_named(name) and (numbers is None or integer_like):
        return "id" if is_unique else "ignore"
    if is_unique and integer_like and _counts_up(numbers):
        return "id"
    if numbers is not None:
        return "numeric"
    if unique_share >= TEXT_MIN_UNIQUE_SHARE and (_looks_like_prose(present) or name.strip().lower() in TEXT_NAMES):
        return "text"
    return "id" if is_unique else "categorical"


def decide_kind(frame: pd.DataFrame, roles: dict[str, str]) -> str:
    """The kind: "text" when a text column has at most one numeric/categorical column beside it, else "table".

    A text column with one side column (a channel, a product) is still a set of documents to embed; with two or
    more side features the rows are records whose text is one field among several.
    """
    has_text = any(roles.get(column) == "text" for column in frame.columns)
    side_features = [c for c in frame.columns if roles.get(c) in ("numeric", "categorical")]
    return "text" if has_text and len(side_features) <= 1 else "table"


def as_numbers(series: pd.Series) -> pd.Series | None:
    """The column as numbers when every present value is a number or a numeric string, else None."""
    if is_bool_dtype(series.dtype):
        return series.astype(int)
    if is_numeric_dtype(series.dtype):
        return series
    if not (is_string_dtype(series.dtype) or is_object_dtype(series.dtype)):
        return None
    present = series.notna()
    if not present.any() or _to_numbers(series[present].head(SAMPLE_SIZE)).isna().any():
        return None  # the look at a sample first keeps big text columns fast
    parsed = _to_numbers(series)
    return parsed if parsed[present].notna().all() else None


def _to_numbers(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.StringDtype):
        cleaned = series.str.strip()
    else:  # objects may mix numbers and strings
        cleaned = series.map(lambda value: value.strip() if isinstance(value, str) else value)
    return pd.to_numeric(cleaned, errors="coerce")


def _id_named(name: str) -> bool:
    """True for names such as id, ID, user_id, customerId, row key, uuid, index."""
    tokens = [token.lower() for token in _NAME_TOKENS.findall(name)]
    return bool(tokens) and tokens[-1] in ID_WORDS


def _is_bool(series: pd.Series, present: pd.Series) -> bool:
    """Boolean dtype, or an object column of True/False with gaps (pandas keeps those as objects)."""
    if is_bool_dtype(series.dtype):
        return True
    return is_object_dtype(series.dtype) and all(isinstance(value, (bool, np.bool_)) for value in present)


def _integer_like(numbers: pd.Series) -> bool:
    values = numbers.dropna().to_numpy(dtype=float)
    return values.size > 0 and bool(np.all(np.mod(values, 1) == 0))


def _counts_up(numbers: pd.Series) -> bool:
    """True for 0, 1, 2, ... or 1, 2, 3, ...: a row number written out as a column."""
    values = numbers.to_numpy(dtype=float)
    return values[0] in (0, 1) and np.array_equal(values, np.arange(values[0], values[0] + len(values)))


def _is_date(series: pd.Series) -> bool:
    if is_datetime64_any_dtype(series.dtype):
        return True
    if not (is_string_dtype(series.dtype) or is_object_dtype(series.dtype)):
        return False
    sample = series.dropna().head(SAMPLE_SIZE)
    return all(isinstance(value, str) and _DATE.fullmatch(value.strip()) for value in sample)


def _looks_like_prose(present: pd.Series) -> bool:
    """Long on average, in characters or in words: sentences rather than category names."""
    sample = present.head(SAMPLE_SIZE).astype(str)
    long_in_chars = sample.str.len().mean() >= TEXT_MIN_MEAN_CHARS
    return bool(long_in_chars or sample.str.split().str.len().mean() >= TEXT_MIN_MEAN_WORDS)
