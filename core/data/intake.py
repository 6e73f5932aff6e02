"""Turning an uploaded or named file into a Dataset, with one clear IntakeError for each way a file can be unusable.

`read_frame` knows file formats and text encodings; `dataset_from_frame` knows column roles and what a method needs;
`load_dataset` chains the two. Nothing here lets a raw pandas, pyarrow or json exception reach the analyst.
"""
from __future__ import annotations

import codecs
import csv
import importlib.util
import io
import json
import re
import warnings
from collections import Counter
from os import PathLike
from pathlib import Path
from typing import IO, Callable, Union

import pandas as pd
from pandas.api.types import is_object_dtype

from core.data.dataset import FEATURE_ROLES, ROLES, Dataset, Kind
from core.data.roles import as_numbers, decide_kind, infer_roles
from core.errors import IntakeError

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
CSV_DELIMITERS = ",;\t|"
SNIFF_CHARS = 64 * 1024  # how much of a file the binary check and the delimiter sniffing look at

Source = Union[str, "PathLike[str]", bytes, IO[bytes]]

_MAGIC = {  # leading bytes of files people rename by mistake, and what to tell them
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (an .xlsx workbook is one: give it the .xlsx extension)",
    b"\xd0\xcf\x11\xe0": "an old Office file (save it as .xlsx or CSV)",
    b"PAR1": "a Parquet file (give it the .parquet extension)",
}
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")


def read_frame(source: Source, filename: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> pd.DataFrame:
    """Read a path, bytes or binary file-like (e.g. Streamlit's UploadedFile) into a frame, format by extension.

    Header names are stripped, blank cells become missing, and entirely empty rows are dropped.
    """
    name = _file_name(source, filename)
    parse = _PARSERS.get(Path(name).suffix.lower())
    if parse is None:
        supported = ", ".join(_PARSERS)
        extension = Path(name).suffix or "(none)"
        raise IntakeError(f"Unsupported file type {extension!r} for {name!r}. Use one of: {supported}.")
    data = _read_bytes(source, name, max_bytes)
    if not data.strip():
        raise _empty(name)
    return _tidy(parse(data, name), name)


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
    frame = read_frame(source, file_name, max_bytes=max_bytes)
    if text_column is None and Path(file_name).suffix.lower() == ".txt":
        text_column = "text"
    return dataset_from_frame(
        frame, name=name or Path(file_name).stem,
        source=str(source) if isinstance(source, (str, PathLike)) else file_name,
        kind=kind, roles=roles, text_column=text_column, label_column=label_column,
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
) -> Dataset:
    """A validated Dataset from an already-read frame: drop empty columns, guess roles, apply overrides.

    Overrides apply in order `roles`, then `text_column`, then `label_column`. Once a label or text column is chosen
    by hand, other columns guessed as label (or, for texts, as text) are set to "ignore" so they cannot leak in.
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

    frame, notes = _drop_empty_columns(frame, set(overrides), name)
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
    frame = _numbers_where_numeric(frame, final)
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
            f"{name!r} is {_human_size(size)}, over the {_human_size(max_bytes)} limit. "
            "Upload fewer rows, or the same data as Parquet, which is much smaller."
        )


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "bytes" or value.is_integer() else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _decode(data: bytes, name: str) -> str:
    """Text from bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252 when it reads plausibly."""
    head = data[:SNIFF_CHARS]
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise IntakeError(f"{name!r} does not look like text: it looks like {what}. Choose a text or table file.")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    elif b"\x00" in head:
        raise IntakeError(
            f"{name!r} does not look like text (it contains NUL bytes). Choose a CSV or text file; "
            "if it is UTF-16 text without a byte-order mark, save it as UTF-8."
        )
    else:
        encodings = ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding != "cp1252" or _plausible(text):
            if not text.strip():
                raise _empty(name)
            return text
    raise IntakeError(
        f"{name!r} is in an unknown encoding (not UTF-8 or Windows-1252). Save it as UTF-8 and upload again."
    )


def _plausible(text: str) -> bool:
    """Windows-1252 decodes almost anything; accept it only when the accented characters are mostly letters."""
    if any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text[:SNIFF_CHARS]):
        return False
    accented = [ch for ch in text[:SNIFF_CHARS] if ord(ch) > 127]
    return sum(ch.isalpha() for ch in accented) >= len(accented) / 2


# ---------------------------------------------------------------- formats


def _parse_delimited(data: bytes, name: str, delimiter: str | None) -> pd.DataFrame:
    """CSV/TSV with the header read by the csv module, so duplicate names are seen before pandas renames them."""
    decoded = _decode(data, name)
    text = _LEADING_BLANK_LINES.sub("", decoded)
    skipped_lines = decoded.count("\n", 0, len(decoded) - len(text))
    delimiter = delimiter or _sniff_delimiter(text)
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
        with warnings.catch_warnings():
            # Without index_col=False pandas silently turns a first column without a header name into the index;
            # with it, pandas only warns that it drops the extra fields. Either way the analyst must hear of it.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), sep=delimiter, index_col=False, low_memory=False)
    except pd.errors.ParserWarning as exc:
        raise IntakeError(
            f"Some data rows of {name!r} have more fields than its header ({len(header)} names). "
            "Add the missing header names, or remove the extra delimiters at the end of those rows."
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise _empty(name) from exc
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        ragged = _RAGGED.search(str(exc))
        if ragged:
            expected, line, seen = ragged.groups()
            raise IntakeError(
                f"{name!r} line {int(line) + skipped_lines} has {seen} fields but the header has {expected}. "
                "Quote values that contain the delimiter, or fix that row."
            ) from exc
        raise _unreadable_table(name, exc) from exc
    if len(header) != len(frame.columns):
        raise _unreadable_table(name, f"{len(header)} header names but {len(frame.columns)} columns")
    frame.columns = header
    return frame


def _unreadable_table(name: str, reason: object) -> IntakeError:
    return IntakeError(f"{name!r} could not be read as a table ({reason}). Check quotes and delimiters.")


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
        counts = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row][:200]
        if not counts or counts[0] < 2:
            continue
        fields, hits = Counter(counts).most_common(1)[0]
        score = (hits / len(counts), fields)
        if fields > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def _parse_lines(data: bytes, name: str) -> pd.DataFrame:
    lines = [line.strip() for line in _decode(data, name).splitlines()]
    return pd.DataFrame({"text": [line for line in lines if line]})


def _parse_jsonl(data: bytes, name: str) -> pd.DataFrame:
    """One JSON object per line; a bare string line is a text. Nested values are kept as JSON strings."""
    records = []
    for number, line in enumerate(_decode(data, name).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            message = f"{name!r} line {number} is not valid JSON ({exc.msg}). Fix or remove that line."
            raise IntakeError(message) from exc
        if isinstance(value, str):
            value = {"text": value}
        if not isinstance(value, dict):
            raise IntakeError(
                f"{name!r} line {number} holds a {type(value).__name__}, not an object or a string. "
                "Write one JSON object per line."
            )
        records.append({key: json.dumps(v) if isinstance(v, (dict, list)) else v for key, v in value.items()})
    return pd.DataFrame.from_records(records)


def _parse_parquet(data: bytes, name: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises many types for corrupt input; all mean the same to the analyst
        raise IntakeError(f"{name!r} could not be read as a Parquet file ({exc}). Export it again or use CSV.") from exc


def _parse_excel(data: bytes, name: str) -> pd.DataFrame:
    """The first sheet; its first row is the header, read as values so duplicate names stay visible."""
    if name.lower().endswith(".xls") and importlib.util.find_spec("xlrd") is None:
        raise IntakeError(
            f"Old .xls workbooks such as {name!r} cannot be read here. Save it as .xlsx or CSV and upload that."
        )
    try:
        cells = pd.read_excel(io.BytesIO(data), sheet_name=0, header=None)
    except Exception as exc:  # openpyxl/zipfile raise many types for a damaged workbook
        raise IntakeError(
            f"{name!r} could not be read as an Excel workbook ({exc}). Save it again as .xlsx or CSV."
        ) from exc
    if cells.empty:
        raise _empty(name, ": its first sheet has no cells")
    frame = cells.iloc[1:].reset_index(drop=True).infer_objects()
    frame.columns = ["" if pd.isna(value) else str(value) for value in cells.iloc[0]]
    return frame


_PARSERS: dict[str, Callable[[bytes, str], pd.DataFrame]] = {
    ".csv": lambda data, name: _parse_delimited(data, name, None),
    ".tsv": lambda data, name: _parse_delimited(data, name, "\t"),
    ".tab": lambda data, name: _parse_delimited(data, name, "\t"),
    ".txt": _parse_lines,
    ".jsonl": _parse_jsonl,
    ".ndjson": _parse_jsonl,
    ".parquet": _parse_parquet,
    ".xlsx": _parse_excel,
    ".xls": _parse_excel,
}


# ---------------------------------------------------------------- frame checks


def _tidy(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Strip header names, refuse duplicates, turn blank cells into missing values, drop empty rows."""
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


def _numbers_where_numeric(frame: pd.DataFrame, roles: dict[str, str]) -> pd.DataFrame:
    """Convert numeric-role columns stored as strings ("3.5") to numbers, refusing columns that hold words."""
    frame = frame.copy()
    for column, role in roles.items():
        if role != "numeric":
            continue
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
    return frame
