"""The "column is value" serialization of table rows."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.data.encode import format_value, row_to_text, rows_to_texts

PENGUIN = {"species": "Adelie", "bill_length_mm": 39.1, "body-mass_g": 3750.0, "sex": None, "year": np.int64(2007)}


def test_row_to_text_clauses_in_column_order() -> None:
    text = row_to_text(PENGUIN, ["species", "bill_length_mm", "body-mass_g", "sex", "year"])
    assert text == "species is Adelie, bill length mm is 39.1, body mass g is 3750, year is 2007"


def test_missing_values_are_left_out() -> None:
    row = {"a": None, "b": float("nan"), "c": "", "d": "   ", "e": pd.NA, "f": np.float64("nan"), "g": 0}
    assert row_to_text(row, list(row)) == "g is 0"
    assert row_to_text({"a": None}, ["a", "absent"]) == ""


def test_numbers_without_spurious_digits() -> None:
    assert [format_value(v) for v in (42.0, 39.1, np.float32(39.1), 1e-7, -3.0, np.int32(5), True)] == [
        "42", "39.1", "39.1", "0.0000001", "-3", "5", "True"]
    assert format_value(float("inf")) == "inf"


def test_long_values_truncated_and_whitespace_collapsed() -> None:
    text = row_to_text({"note": "word " * 100, "x": "two\nlines"}, ["note", "x"], max_chars_per_value=20)
    note, x = text.split(", ")
    assert note == "note is word word word word…"
    assert len(note) - len("note is ") <= 20
    assert x == "x is two lines"


def test_rows_to_texts_default_order_and_column_subset() -> None:
    frame = pd.DataFrame({"a_b": [1.5, 2.0], "c": ["x", None]})
    assert rows_to_texts(frame) == ["a b is 1.5, c is x", "a b is 2"]
    assert rows_to_texts(frame, ["c"]) == ["c is x", ""]


def test_rows_to_texts_shuffles_per_row_reproducibly() -> None:
    frame = pd.DataFrame({c: range(30) for c in "abcdef"})
    shuffled = rows_to_texts(frame, order=7)
    assert shuffled == rows_to_texts(frame, order=np.random.default_rng(7))
    assert shuffled != rows_to_texts(frame, order=8)
    first_clauses = {text.split(", ")[0][0] for text in shuffled}
    assert len(first_clauses) > 1  # the order differs between rows, not once for all
    assert all(sorted(text.split(", ")) == sorted(plain.split(", "))
               for text, plain in zip(shuffled, rows_to_texts(frame)))
