"""Turning an uploaded or named file into a Dataset, with one clear IntakeError for each way a file can be unusable.

`read_frame` knows file formats and text encodings; `dataset_from_frame` knows column roles and what a method needs;
`load_dataset` chains the two. Nothing here lets a raw pandas, pyarrow or json exception reach the analyst, and no
file is materialised before its size is checked (core.data.limits): CSV, TSV, JSONL and TXT are parsed here with
bounds checked before and while parsing (their memory follows the capped file size); Excel and Parquet, whose
memory follows what they declare, are read in a capped child process (core.data.sandbox), as are delimited files
whose fields cannot be bounded cheaply.
"""
from __future__ import annotations

import importlib.util
import io
import json
import re
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import IO, Callable, Union

import pandas as pd
from pandas.api.types import is_object_dtype, is_string_dtype

from core.data.dataset import FEATURE_ROLES, ROLES, Dataset, Kind
from core.data.decoding import decode, lines_of
from core.data.delimited import parse_delimited
from core.data.limits import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_FILE_BYTES,
    MAX_JSON_DEPTH,
    MAX_ROWS,
    check_cell,
    check_shape,
    human_size,
)
from core.data.roles import decide_kind, infer_roles, numbers_where_numeric, without_infinities
from core.data.sandbox import read_in_child
from core.errors import IntakeError

DEFAULT_MAX_BYTES = MAX_FILE_BYTES

Source = Union[str, "PathLike[str]", bytes, IO[bytes]]
Parsed = tuple[pd.DataFrame, list[str]]
"""A frame and notes on how it was read (an encoding guessed, lines read differently)."""

_JSON_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')  # a string (skipped whole), a bracket, a comma


def read_frame(source: Source, filename: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> pd.DataFrame:
    """Read a path, bytes or binary file-like (e.g. Streamlit's UploadedFile) into a frame, format by extension.

    Header names are stripped, blank cells become missing, and entirely empty rows are dropped.
    """
    return _read(source, _file_name(source, filename), max_bytes)[0]


def _read(source: Source, name: str, max_bytes: int) -> Parsed:
    parse = _PARSERS.get(Path(name).suffix.lower())
    if parse is None:
        supported = ", ".join(_PARSERS)
        extension = Path(name).suffix or "(none)"
        raise IntakeError(f"Unsupported file type {extension!r} for {name!r}. Use one of: {supported}.")
    data = _read_bytes(source, name, max_bytes)
    if not data or data.isspace():
        raise _empty(name)
    frame, notes = parse(data, name)
    return _tidy(frame, name), notes


def _empty(name: str, detail: str = "") -> IntakeError:
    return IntakeError(f"{name!r} is empty{detail}. Choose a file that holds data rows.")


def load_dataset(
    source: Source,
    filename: str | None = None,
    *,
    kind: Kind | None = None,
    roles: dict[str, str] | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    name: str | None = None,
) -> Dataset:
    """Read a file and return a validated Dataset with guessed roles, corrected by any overrides given.

    A .txt file is one text per line, so its "text" column is the text unless told otherwise.
    """
    file_name = _file_name(source, filename)
    frame, notes = _read(source, file_name, max_bytes)
    if text_column is None and Path(file_name).suffix.lower() == ".txt":
        text_column = "text"
    return dataset_from_frame(
        frame, name=name or Path(file_name).stem,
        source=str(source) if isinstance(source, (str, PathLike)) else file_name,
        kind=kind, roles=roles, text_column=text_column, label_column=label_column, notes=notes,
    )


def dataset_from_frame(
    frame: pd.DataFrame,
    *,
    name: str = "data",
    source: str = "",
    kind: Kind | None = None,
    roles: dict[str, str] | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    notes: Sequence[str] = (),
) -> Dataset:
    """A validated Dataset from an already-read frame: drop empty columns, guess roles, apply overrides.

    Overrides apply in order `roles`, then `text_column`, then `label_column`. Once a label or text column is chosen
    by hand, other columns guessed as label (or, for texts, as text) are set to "ignore" so they cannot leak in.
    Numeric columns hold numbers afterwards, infinities as missing values (noted). `notes` (from reading the file)
    come first among the data set's notes.
    """
    if kind not in (None, "text", "table"):
        raise IntakeError(f"Unknown kind {kind!r}. Use 'text' (documents to embed) or 'table' (records).")
    overrides = dict(roles or {})
    bad_roles = {column: role for column, role in overrides.items() if role not in ROLES}
    if bad_roles:
        column, role = next(iter(bad_roles.items()))
        raise IntakeError(f"Unknown role {role!r} for column {column!r}. Use one of: {', '.join(ROLES)}.")
    if text_column is not None:
        overrides[text_column] = "text"
    if label_column is not None:
        overrides[label_column] = "label"
    _check_columns_exist(frame, [*overrides], name)

    frame, infinite = without_infinities(frame, list(frame.columns))
    frame, dropped = _drop_empty_columns(frame, set(overrides), name)
    notes = [*notes, *infinite, *dropped]
    if len(frame) < 2:
        raise IntakeError(f"{name!r} has {len(frame)} data row(s); need at least two rows to cluster. Add more rows.")

    guessed = infer_roles(frame)
    final = {**guessed, **overrides}
    notes += _demote_rivals(final, guessed, overrides, "label")
    kind = kind or decide_kind(frame, final)
    if kind == "text":
        notes += _demote_rivals(final, guessed, overrides, "text")
    if not any(role in FEATURE_ROLES for role in final.values()):
        found = ", ".join(f"{column!r} ({role})" for column, role in final.items())
        raise IntakeError(
            f"No usable column in {name!r}: {found}. Every column is an id, a date, constant or empty. "
            "Add a column with values to cluster on, or set a column's role by hand."
        )
    frame, converted = numbers_where_numeric(frame, final)
    notes += converted
    dataset = Dataset(frame=frame, kind=kind, roles=final, name=name, source=source, notes=tuple(notes))
    dataset.validate()
    return dataset


# ---------------------------------------------------------------- bytes in


def _file_name(source: Source, filename: str | None) -> str:
    if filename:
        return Path(filename).name
    if isinstance(source, (str, PathLike)):
        return Path(source).name
    name = getattr(source, "name", None)
    if isinstance(name, str) and name:
        return Path(name).name
    raise IntakeError("Cannot tell the file format without a file name. Pass filename='data.csv' (or .xlsx, ...).")


def _read_bytes(source: Source, name: str, max_bytes: int) -> bytes:
    """The file's bytes, refusing anything over `max_bytes` before reading it when the size is known up front."""
    if isinstance(source, (str, PathLike)):
        path = Path(source)
        if not path.is_file():
            raise IntakeError(f"No file at {str(path)!r}. Check the path.")
        _check_size(path.stat().st_size, name, max_bytes)
        return path.read_bytes()
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        size = getattr(source, "size", None)
        if not isinstance(size, int) and source.seekable():
            size = source.seek(0, io.SEEK_END)
            source.seek(0)
        if isinstance(size, int):
            _check_size(size, name, max_bytes)
        data = source.getvalue() if hasattr(source, "getvalue") else source.read()
    _check_size(len(data), name, max_bytes)
    return data


def _check_size(size: int, name: str, max_bytes: int) -> None:
    if size > max_bytes:
        raise IntakeError(
            f"{name!r} is {human_size(size)}, over the {human_size(max_bytes)} limit. "
            "Upload fewer rows, or the same data as Parquet, which is much smaller."
        )


# ---------------------------------------------------------------- formats


def _parse_lines(data: bytes, name: str) -> Parsed:
    """One text per line; blank lines skipped. Over MAX_ROWS texts is refused before the lines are split."""
    decoded, notes = decode(data, name)
    if decoded.count("\n") >= MAX_ROWS:
        texts = sum(1 for line in lines_of(decoded) if line.strip())
        check_shape(name, texts, 1)
    lines = [line.strip() for line in decoded.splitlines()]
    return pd.DataFrame({"text": [line for line in lines if line]}), notes


def _parse_jsonl(data: bytes, name: str) -> Parsed:
    """One JSON object per line; a bare string line is a text. Nested values are kept as JSON strings.

    Each line's shape is checked without recursion before it is parsed (`_check_json_line`), and the rows and the
    union of the keys are bounded while reading (a file whose every line has new keys is a very wide table).
    """
    decoded, notes = decode(data, name)
    records = []
    keys: dict[str, None] = {}
    for number, line in enumerate(lines_of(decoded), start=1):
        if not line.strip():
            continue
        _check_json_line(line, name, number)
        try:
            value = json.loads(line)
        except ValueError as exc:  # JSONDecodeError, or a number with thousands of digits
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "a number too long to read"
            raise IntakeError(f"{name!r} line {number} is not valid JSON ({reason}). Fix or remove that line.") from exc
        if isinstance(value, str):
            value = {"text": value}
        if not isinstance(value, dict):
            raise IntakeError(
                f"{name!r} line {number} holds a {type(value).__name__}, not an object or a string. "
                "Write one JSON object per line."
            )
        keys.update(dict.fromkeys(value))
        records.append({key: json.dumps(v) if isinstance(v, (dict, list)) else v for key, v in value.items()})
        check_shape(name, len(records), len(keys), so_far=True)
    return pd.DataFrame.from_records(records), notes


def _check_json_line(line: str, name: str, number: int) -> None:
    """IntakeError for a JSON line nesting deeper than MAX_JSON_DEPTH, with more than MAX_COLUMNS keys, or with
    more nested items than a value may hold characters, found by walking its brackets and commas outside strings in
    a loop: Python's json parser recurses (and fails on deep input) and allocates for every item before we could
    count them. Lines with few brackets and commas, counted in C, need no walk."""
    if line.count("[") + line.count("{") <= MAX_JSON_DEPTH and line.count(",") < MAX_COLUMNS:
        return
    depth = commas = top_level = 0
    for token in _JSON_STRUCTURE.finditer(line):
        mark = token.group()
        if mark in ("[", "{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise IntakeError(f"{name!r} line {number} nests JSON values more than {MAX_JSON_DEPTH} levels "
                                  "deep. Flatten the records to one level of keys.")
        elif mark in ("]", "}"):
            depth -= 1
        elif mark == ",":
            commas += 1
            top_level += depth == 1
            if top_level >= MAX_COLUMNS:
                check_shape(name, 1, top_level + 1, so_far=True)
            if commas > MAX_CELL_CHARS:
                check_cell(name, commas, f"line {number}, a list of over {MAX_CELL_CHARS:,} items")


def _parse_parquet(data: bytes, name: str) -> Parsed:
    return read_in_child("parquet", data, name), []


def _parse_excel(data: bytes, name: str) -> Parsed:
    if name.lower().endswith(".xls") and importlib.util.find_spec("xlrd") is None:
        raise IntakeError(
            f"Old .xls workbooks such as {name!r} cannot be read here. Save it as .xlsx or CSV and upload that."
        )
    return read_in_child("excel", data, name), []


_PARSERS: dict[str, Callable[[bytes, str], Parsed]] = {
    ".csv": lambda data, name: parse_delimited(data, name, None),
    ".tsv": lambda data, name: parse_delimited(data, name, "\t"),
    ".tab": lambda data, name: parse_delimited(data, name, "\t"),
    ".txt": _parse_lines,
    ".jsonl": _parse_jsonl,
    ".ndjson": _parse_jsonl,
    ".parquet": _parse_parquet,
    ".xlsx": _parse_excel,
    ".xls": _parse_excel,
}


# ---------------------------------------------------------------- frame checks


def _tidy(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Check the size and the longest value, strip header names, refuse duplicates, turn blank cells into missing
    values, drop empty rows."""
    check_shape(name, len(frame), len(frame.columns))
    _check_longest_values(frame, name)
    names = [str(column).strip() for column in frame.columns]
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        listed = ", ".join(repr(n) for n in duplicates)
        raise IntakeError(
            f"{name!r} has duplicate column names: {listed}. Rename them so every column name is unique."
        )
    frame.columns = [n or f"column {i + 1}" for i, n in enumerate(names)]
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.StringDtype):
            frame[column] = values.mask(values.str.strip().eq("").fillna(False).astype(bool))
        elif is_object_dtype(values.dtype):
            blank = values.map(lambda value: isinstance(value, str) and not value.strip())
            frame[column] = values.mask(blank.astype(bool))
    frame = frame.dropna(how="all").reset_index(drop=True)
    if frame.empty:
        raise _empty(name, ": it has a header but no data rows")
    return frame


def _check_longest_values(frame: pd.DataFrame, name: str) -> None:
    """IntakeError saying where the first value (or column name) longer than MAX_CELL_CHARS is."""
    for position, column in enumerate(frame.columns):
        check_cell(name, len(str(column)), f"the name of column {position + 1}")
        values = frame.iloc[:, position]
        if is_string_dtype(values.dtype) and not is_object_dtype(values.dtype):
            lengths = values.str.len()
        elif is_object_dtype(values.dtype):
            lengths = values.map(lambda value: len(value) if isinstance(value, str) else 0)
        else:
            continue
        lengths = lengths.fillna(0).reset_index(drop=True)
        if len(lengths) and lengths.max() > MAX_CELL_CHARS:
            row = int(lengths.idxmax())
            check_cell(name, int(lengths[row]), f"column {str(column)[:40]!r}, row {row + 1}")


def _check_columns_exist(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise IntakeError(
            f"No column named {missing[0]!r} in {name!r}. Columns are: {', '.join(map(str, frame.columns))}."
        )


def _drop_empty_columns(frame: pd.DataFrame, chosen: set[str], name: str) -> tuple[pd.DataFrame, list[str]]:
    """Drop columns with no values at all, noting it; a column the analyst chose by hand must not be empty."""
    empty = [column for column in frame.columns if frame[column].isna().all()]
    chosen_empty = [column for column in empty if column in chosen]
    if chosen_empty:
        raise IntakeError(f"Column {chosen_empty[0]!r} in {name!r} has no values. Choose a column that holds data.")
    if not empty:
        return frame, []
    remaining = frame.drop(columns=empty)
    if remaining.columns.empty:
        raise IntakeError(f"Every column of {name!r} is empty. Choose a file that holds values.")
    return remaining, [f"Dropped empty column(s): {', '.join(map(repr, empty))}."]


def _demote_rivals(roles: dict[str, str], guessed: dict[str, str], overrides: dict[str, str], role: str) -> list[str]:
    """When `role` was given by hand, set other columns only guessed to have it to "ignore"; return notes."""
    chosen = [column for column, given in overrides.items() if given == role]
    if not chosen:
        return []
    rivals = [c for c, r in guessed.items() if r == role and c not in overrides]
    for column in rivals:
        roles[column] = "ignore"
    return [f"Column {c!r} also looked like a {role} column; set to 'ignore' because {chosen[0]!r} was chosen."
            for c in rivals]


SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(extension.lstrip(".") for extension in _PARSERS)
"""The file endings intake reads (what an upload widget should accept)."""
