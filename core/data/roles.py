"""Guessing what each column is for, so an analyst starts from a sensible proposal and only corrects it.

Roles come from `core.data.dataset.ROLES`. "group" is never guessed: splitting rows into groups is a choice the
analyst makes. Dates are marked "ignore": as raw timestamps they are neither a distance-friendly number nor a
category, and turning them into features (weekday, season...) is a decision, not a default. Some roles are only
visible across columns: a table whose numbers are mostly small codes (UCI's soybean: 35 columns of 0..6) is a table
of categories, and the one column of a one-column file is its texts.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
    is_object_dtype,
    is_string_dtype,
)

from core.errors import IntakeError

LABEL_NAMES = frozenset({"label", "labels", "class", "category", "intent", "target", "topic", "species", "y"})
ID_WORDS = frozenset({"id", "uuid", "guid", "key", "index", "idx"})
TEXT_NAMES = frozenset({"text", "texts", "message", "sentence", "document", "utterance", "comment", "review", "body"})

LABEL_MAX_UNIQUE_SHARE = 0.5  # a label repeats: at most half of its values are distinct
TEXT_MIN_UNIQUE_SHARE = 0.5  # documents rarely repeat...
TEXT_REPEATED_MIN_DISTINCT = 20  # ...but free text with repeats ("thanks!", copy-pasted complaints) has many
TEXT_REPEATED_MIN_SHARE = 0.1  # distinct values, and more as rows are added; categories saturate far below this
TEXT_MIN_MEAN_CHARS = 25
TEXT_MIN_MEAN_WORDS = 4
ID_MIN_ROWS = 20  # a shuffled 1..n column or near-unique codes only say "identifier" over this many rows
ID_MIN_UNIQUE_SHARE = 0.95  # codes without spaces this distinct are identifiers even with a few duplicates
CODE_MAX_VALUE = 20  # a coded category: integers 0..CODE_MAX_VALUE...
CODE_MAX_DISTINCT = 10  # ...with at most this many distinct values
CODED_TABLE_MIN_COLUMNS = 3  # codes are categories when at least this many numeric columns are codes...
CODED_TABLE_MIN_SHARE = 0.5  # ...and they are at least half of the numeric columns (else `visits` 0..4 is a count)
SAMPLE_SIZE = 2000  # length and date checks look at this many values, enough to judge and fast on big files
SAMPLE_CHARS = 1000  # of each sampled value: a 30 MB document need not be split into words to look long

_DATE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"
    r"|\d{1,2}[/.]\d{1,2}[/.]\d{2}(\d{2})?"
)
_NAME_TOKENS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def infer_roles(frame: pd.DataFrame) -> dict[str, str]:
    """A role for every column of `frame`, guessed from its name and values (see `infer_role`), then across columns:
    numeric columns that are mostly small codes become categorical (`coded_columns`), and the only column of a
    one-column file, when it holds many distinct strings, is text."""
    roles = {column: infer_role(str(column), frame[column]) for column in frame.columns}
    for column in coded_columns(frame, roles):
        roles[column] = "categorical"
    if len(roles) == 1:
        column, role = next(iter(roles.items()))
        values = frame[column].dropna()
        if role == "categorical" and as_numbers(values) is None and values.nunique() >= TEXT_REPEATED_MIN_DISTINCT:
            roles[column] = "text"
    return roles


def coded_columns(frame: pd.DataFrame, roles: Mapping[str, str]) -> list[str]:
    """Numeric columns holding few distinct small non-negative integers, when they are most of the numeric columns
    (at least CODED_TABLE_MIN_COLUMNS of them): a table of coded categories such as UCI's soybean."""
    numeric = [column for column in frame.columns if roles.get(column) == "numeric"]
    codes = [column for column in numeric if _is_code(as_numbers(frame[column]))]
    if len(codes) >= CODED_TABLE_MIN_COLUMNS and len(codes) >= CODED_TABLE_MIN_SHARE * len(numeric):
        return codes
    return []


def infer_role(name: str, series: pd.Series) -> str:
    """The role of one column. Checks run from the most to the least specific:

    empty, constant or date → "ignore"; named like a label and repeating → "label"; booleans → "categorical";
    named like an id → "id" when unique, else "ignore" (a reference such as customer_id); integers counting up
    from 0 or 1, or (over ID_MIN_ROWS rows) distinct integers that are 1..n shuffled or shifted → "id"; numbers (or
    strings that parse as numbers) → "numeric", however few distinct values; prose or text-named strings that are
    mostly distinct, or repeat but still have many distinct values → "text"; other all-distinct strings, and
    nearly all-distinct codes without spaces → "id"; the rest → "categorical".
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
    if is_unique and integer_like and (_counts_up(numbers) or _row_numbers(numbers)):
        return "id"
    if numbers is not None:
        return "numeric"
    named_text = name.strip().lower() in TEXT_NAMES
    if unique_share >= TEXT_MIN_UNIQUE_SHARE and (named_text or _looks_like_prose(present)):
        return "text"
    if (present.nunique() >= TEXT_REPEATED_MIN_DISTINCT and unique_share >= TEXT_REPEATED_MIN_SHARE
            and (named_text or _looks_like_prose(pd.Series(present.unique())))):
        return "text"
    if is_unique or (len(present) >= ID_MIN_ROWS and unique_share >= ID_MIN_UNIQUE_SHARE and _one_token(present)):
        return "id"
    return "categorical"


def decide_kind(frame: pd.DataFrame, roles: dict[str, str]) -> str:
    """The kind: "text" when a text column has at most one numeric/categorical column beside it, else "table".

    A text column with one side column (a channel, a product) is still a set of documents to embed; with two or
    more side features the rows are records whose text is one field among several.
    """
    has_text = any(roles.get(column) == "text" for column in frame.columns)
    side_features = [c for c in frame.columns if roles.get(c) in ("numeric", "categorical")]
    return "text" if has_text and len(side_features) <= 1 else "table"


def numbers_where_numeric(frame: pd.DataFrame, roles: Mapping[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """The frame with numeric-role columns as numbers and their infinities as missing values, and a note for each
    column that had some; IntakeError for a numeric column holding words."""
    frame = frame.copy()
    numeric = [column for column, role in roles.items() if role == "numeric"]
    for column in numeric:
        numbers = as_numbers(frame[column])
        if numbers is None:
            present = frame[column].dropna()
            words = [v for v in present if pd.isna(pd.to_numeric(str(v).strip(), errors="coerce"))]
            example = words[0] if words else present.iloc[0]
            raise IntakeError(
                f"Column {column!r} is marked numeric but holds values that are not numbers, e.g. {example!r}. "
                "Mark it categorical or text, or fix those values."
            )
        frame[column] = numbers
    return without_infinities(frame, numeric)


def without_infinities(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """The frame with +/-inf in its numeric `columns` as missing values (no method can measure a distance to
    infinity), and a note for each column that had some."""
    notes = []
    cleaned = frame
    for column in columns:
        values = frame[column]
        if not is_numeric_dtype(values.dtype) or is_bool_dtype(values.dtype):
            continue
        infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
        if infinite.any():
            cleaned = frame.copy() if cleaned is frame else cleaned
            cleaned[column] = values.astype(float).mask(infinite)
            notes.append(f"Column {column!r}: {int(infinite.sum())} infinite value(s) treated as missing.")
    return cleaned, notes


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
    return values.size > 0 and bool(np.all(np.isfinite(values)) and np.all(np.mod(values, 1) == 0))


def _is_code(numbers: pd.Series | None) -> bool:
    """Few distinct non-negative integers no larger than CODE_MAX_VALUE."""
    if numbers is None or is_bool_dtype(numbers.dtype) or not _integer_like(numbers):
        return False
    values = numbers.dropna()
    return bool(values.min() >= 0 and values.max() <= CODE_MAX_VALUE and values.nunique() <= CODE_MAX_DISTINCT)


def _row_numbers(numbers: pd.Series) -> bool:
    """Distinct integers filling a range without gaps (1..n shuffled, 1001..1000+n), over ID_MIN_ROWS rows."""
    values = numbers.to_numpy(dtype=float)
    return len(values) >= ID_MIN_ROWS and values.max() - values.min() + 1 == len(values)


def _one_token(present: pd.Series) -> bool:
    """ASCII strings without spaces (codes, hashes, e-mail addresses), judged on a sample."""
    sample = present.head(SAMPLE_SIZE)
    return all(isinstance(value, str) and value.isascii() and value.strip() and len(value.split()) == 1
               for value in sample)


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
    """Long on average in words, or in characters when spaced or not ASCII (Chinese and Japanese are written
    without spaces; a hash, a URL or a file path is long, ASCII and unspaced): sentences, not names or codes."""
    sample = present.head(SAMPLE_SIZE).astype(str).str.slice(0, SAMPLE_CHARS)
    words = sample.str.split().str.len().mean()
    long_in_chars = sample.str.len().mean() >= TEXT_MIN_MEAN_CHARS
    return bool(words >= TEXT_MIN_MEAN_WORDS or (long_in_chars and (words >= 2 or not sample.map(str.isascii).all())))
