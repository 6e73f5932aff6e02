"""CSV and TSV text into a frame, with the header read by the csv module so duplicate names are seen before pandas
renames them, and the number of fields bounded before pandas allocates for them.

Delimiters plus line breaks (counted in C) bound the fields from above. Under MAX_CELLS and MAX_ROWS the text is
parsed here; over them it may still be a legitimate file (quoted delimiters do not split), but only a parser can
tell and a parser allocates per field, so it is parsed in the capped child process (core.data.sandbox), which
refuses it with the limit it passes.
"""
from __future__ import annotations

import csv
import io
import re
import warnings
from collections import Counter

import pandas as pd

from core.data.decoding import decode, lines_of
from core.data.limits import MAX_CELLS, MAX_ROWS, check_cell, check_shape
from core.data.sandbox import read_in_child
from core.errors import IntakeError

CSV_DELIMITERS = ",;\t|"
SNIFF_CHARS = 64 * 1024  # how much of a file the delimiter sniffing looks at
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")


def parse_delimited(data: bytes, name: str, delimiter: str | None, *,
                    isolated: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """The frame of a CSV (`delimiter` None: sniffed) or TSV file, and notes on its encoding. `isolated` says this
    already runs in the capped child, so an unbounded text is parsed here rather than sent there."""
    decoded, notes = decode(data, name)
    blank = _LEADING_BLANK_LINES.match(decoded)
    text = decoded[blank.end():] if blank else decoded
    skipped_lines = decoded.count("\n", 0, blank.end()) if blank else 0
    if not text or text.isspace():
        raise IntakeError(f"{name!r} is empty. Choose a file that holds data rows.")
    delimiter = delimiter or _sniff_delimiter(text)
    first_line = re.match(r"[^\r\n]*", text).group()
    if '"' not in first_line:
        check_shape(name, 1, first_line.count(delimiter) + 1)
    lines = text.count("\n") + text.count("\r") - text.count("\r\n") + 1  # pandas also ends lines at a lone CR
    if not isolated and (lines > MAX_ROWS or text.count(delimiter) + lines > MAX_CELLS):
        return read_in_child("tsv" if delimiter == "\t" else "csv", data, name), notes
    return _parsed(text, delimiter, name, skipped_lines), notes


def _parsed(text: str, delimiter: str, name: str, skipped_lines: int) -> pd.DataFrame:
    try:
        header = next(csv.reader(lines_of(text), delimiter=delimiter))
        check_shape(name, 1, len(header))
        with warnings.catch_warnings():
            # Without index_col=False pandas silently turns a first column without a header name into the index;
            # with it, pandas only warns that it drops the extra fields. Either way the analyst must hear of it.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.BytesIO(text.encode("utf-8")), sep=delimiter, index_col=False, low_memory=False,
                                encoding="utf-8")
    except pd.errors.ParserWarning as exc:
        raise IntakeError(
            f"Some data rows of {name!r} have more fields than its header ({len(header)} names). "
            "Add the missing header names, or remove the extra delimiters at the end of those rows."
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise IntakeError(f"{name!r} is empty. Choose a file that holds data rows.") from exc
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        if "out of memory" in str(exc):  # pandas' tokenizer says so in a ParserError; the capped child reports it
            raise MemoryError(str(exc)) from exc
        ragged = _RAGGED.search(str(exc))
        if ragged:
            expected, line, seen = ragged.groups()
            raise IntakeError(
                f"{name!r} line {int(line) + skipped_lines} has {seen} fields but the header has {expected}. "
                "Quote values that contain the delimiter, or fix that row."
            ) from exc
        if "field larger than field limit" in str(exc):  # the csv module's own cap, above ours
            check_cell(name, csv.field_size_limit() + 1, "in its first row")
        raise IntakeError(f"{name!r} could not be read as a table ({exc}). Check quotes and delimiters.") from exc
    if len(header) != len(frame.columns):
        raise IntakeError(f"{name!r} could not be read as a table ({len(header)} header names but "
                          f"{len(frame.columns)} columns). Check quotes and delimiters.")
    check_shape(name, len(frame), len(frame.columns))
    frame.columns = header
    return frame


def _sniff_delimiter(text: str) -> str:
    """The candidate that splits the header and most of the first lines into the same number (>1) of fields.

    When none does, the file is one column of texts; a delimiter that never occurs keeps each line whole
    while quotes are still honoured. A minority of ragged lines is left for the parser to report.
    """
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS:
        sample = sample[: sample.rfind("\n") + 1] or sample
    best, best_score = "\x1f", (0.5, 0)
    for delimiter in CSV_DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines_of(sample), delimiter=delimiter) if row][:200]
        except csv.Error:  # a quoted value longer than the csv module allows: not a table delimited this way
            continue
        if not counts or counts[0] < 2:
            continue
        fields, hits = Counter(counts).most_common(1)[0]
        score = (hits / len(counts), fields)
        if fields > 1 and score > best_score:
            best, best_score = delimiter, score
    return best
