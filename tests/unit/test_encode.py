"""The "column is value" serialization of table rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.encode import (NumberBins, NumberWords, encode_row, encode_rows, format_value, make_verbalizer,
                              row_to_text, rows_to_texts)
from core.errors import SettingsError

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


def test_value_spans_point_at_the_values() -> None:
    row = encode_row({"bill_length_mm": 39.1, "sex": None, "island": "Dream, east"},
                     ["bill_length_mm", "sex", "island"])
    assert row.text == "bill length mm is 39.1, island is Dream, east"
    assert [row.text[start:end] for start, end in row.value_spans] == ["39.1", "Dream, east"]
    assert [r.text for r in encode_rows(pd.DataFrame([PENGUIN]))] == rows_to_texts(pd.DataFrame([PENGUIN]))


def test_number_words_verbalize_numbers_only() -> None:
    say = NumberWords()
    assert say("x", 42.5) == "forty-two point five"
    assert say("x", np.float64(39.1)) == "thirty-nine point one"
    assert say("x", 3750.0) == "three thousand seven hundred and fifty"  # no comma: it would split the clause
    assert say("x", -3) == "minus three"
    assert [say("x", v) for v in ("Dream", True, float("nan"), None, float("inf"))] == ["Dream", "True", "", "", "inf"]
    text = row_to_text({"age": 42.5, "city": "Lyon", "n": None}, ["age", "city", "n"], verbalizer=say)
    assert text == "age is forty-two point five, city is Lyon"


def test_number_bins_learn_terciles_per_column() -> None:
    frame = pd.DataFrame({"age": [10.0, 20, 30, 40, 50, 60, np.nan], "city": list("abcdefg"), "flag": [True] * 7})
    bins = NumberBins().fit(frame)
    assert set(bins.edges_) == {"age"}
    texts = rows_to_texts(frame, verbalizer=bins)
    assert [t.split(", ")[0] for t in texts[:6]] == ["age is low", "age is low", "age is medium", "age is medium",
                                                   "age is high", "age is high"]
    assert texts[6] == "city is g, flag is True"
    assert NumberBins(5).fit(frame)("age", 60.0) == "very high"
    assert NumberBins(4).fit(frame)("age", 10.0) == "bin 1 of 4"


def test_make_verbalizer_settings() -> None:
    frame = pd.DataFrame({"age": [1.0, 2.0, 3.0]})
    assert make_verbalizer(None, frame) is None
    assert isinstance(make_verbalizer("words", frame), NumberWords)
    assert make_verbalizer("bins", frame)("age", 3.0) == "high"
    with pytest.raises(SettingsError):
        make_verbalizer("roman", frame)


def test_shuffled_verbalized_rows_keep_their_clauses() -> None:
    frame = pd.DataFrame({"a": [1.5, 2.0], "b": ["x", "y"], "c": [7, 8]})
    plain = rows_to_texts(frame, verbalizer=NumberWords())
    for seed in range(5):
        shuffled = rows_to_texts(frame, order=seed, verbalizer=NumberWords())
        assert [sorted(t.split(", ")) for t in shuffled] == [sorted(t.split(", ")) for t in plain]


def test_partial_views_drop_clauses_reproducibly_and_keep_one() -> None:
    frame = pd.DataFrame({c: range(40) for c in "abcdef"})
    full = [set(text.split(", ")) for text in rows_to_texts(frame)]
    views = encode_rows(frame, order=5, drop=0.5)
    assert [row.text for row in views] == [row.text for row in encode_rows(frame, order=5, drop=0.5)]
    clauses = [set(row.text.split(", ")) for row in views]
    assert all(view and view <= whole for view, whole in zip(clauses, full))
    assert 2 < np.mean([len(view) for view in clauses]) < 4.5  # about half of the six clauses
    assert all(len(set(row.text.split(", "))) == 1 for row in encode_rows(frame, order=5, drop=0.99))
    assert all(row.text[a:b].isdigit() for row in views for a, b in row.value_spans)
    with pytest.raises(SettingsError, match="random"):
        encode_rows(frame, drop=0.5)
