"""Excel and Parquet files, read in the child process of core.data.sandbox: their sizes are checked from metadata
(zip directory, the sheet's declared dimension, the Parquet footer) before any cell is read, and the cells are
bounded again while they are read, since metadata can lie.
"""
from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from core.data.limits import MAX_PACKING_RATIO, MAX_UNPACKED_BYTES, check_shape, human_size
from core.errors import IntakeError

_PACKED_MEMBER_MIN = 1024 * 1024  # the packing ratio is judged on members bigger than this


def read_excel(path: Path, name: str) -> pd.DataFrame:
    """The first worksheet; its first non-empty row is the header, read as values so duplicate names stay visible."""
    if name.lower().endswith(".xls"):
        return _read_old_excel(path, name)
    _check_zip(path, name)
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except MemoryError:
        raise
    except Exception as exc:  # openpyxl/zipfile raise many types for a damaged workbook
        raise _bad_workbook(name, exc) from exc
    try:
        if not workbook.worksheets:
            raise IntakeError(f"{name!r} has no worksheet. Save the data on a sheet and upload again.")
        sheet = workbook.worksheets[0]
        if sheet.max_row and sheet.max_column:
            _check_declared(name, sheet.max_row, sheet.max_column)
        sheet.reset_dimensions()  # a declared size may lie: the rows are counted as they are read instead
        try:
            rows = _bounded_rows(sheet.iter_rows(values_only=True), name)
        except (IntakeError, MemoryError):
            raise
        except Exception as exc:  # a damaged sheet fails part-way through
            raise _bad_workbook(name, exc) from exc
    finally:
        workbook.close()
    if not rows:
        raise IntakeError(f"{name!r} is empty: its first sheet has no cells. Choose a file that holds data rows.")
    width = max(len(row) for row in rows)
    header = [("" if value is None else str(value)) for value in rows[0]] + [""] * (width - len(rows[0]))
    frame = pd.DataFrame([list(row) + [None] * (width - len(row)) for row in rows[1:]], columns=range(width))
    frame.columns = header
    return frame.infer_objects()


def _read_old_excel(path: Path, name: str) -> pd.DataFrame:
    """An .xls workbook through xlrd (intake refuses .xls before this when xlrd is not installed)."""
    try:
        cells = pd.read_excel(path, sheet_name=0, header=None)
    except MemoryError:
        raise
    except Exception as exc:  # xlrd raises many types for a damaged workbook
        raise _bad_workbook(name, exc) from exc
    check_shape(name, len(cells), len(cells.columns))
    if cells.empty:
        raise IntakeError(f"{name!r} is empty: its first sheet has no cells. Choose a file that holds data rows.")
    frame = cells.iloc[1:].reset_index(drop=True).infer_objects()
    frame.columns = ["" if pd.isna(value) else str(value) for value in cells.iloc[0]]
    return frame


def _check_zip(path: Path, name: str) -> None:
    """Refuse a workbook whose zip members declare more than MAX_UNPACKED_BYTES or pack suspiciously well.

    Python's zipfile never unpacks more than a member declares, so the declared sizes bound what reading costs.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _bad_workbook(name, "not a valid .xlsx archive") from exc
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise IntakeError(f"{name!r} unpacks to {human_size(unpacked)}; the limit is "
                          f"{human_size(MAX_UNPACKED_BYTES)}. Save the data as CSV, or split the workbook.")
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _PACKED_MEMBER_MIN and ratio > MAX_PACKING_RATIO:
            raise IntakeError(f"{name!r} looks like a compression bomb: {member.filename!r} unpacks "
                              f"{ratio:,.0f} times larger than it is stored. "
                              "Save the data again as .xlsx or CSV from a spreadsheet program.")


def _check_declared(name: str, rows: int, columns: int) -> None:
    """The sheet's declared used range must fit the limits; a range mostly empty is a formatting leftover."""
    try:
        check_shape(name, rows, columns)
    except IntakeError as error:
        raise IntakeError(f"{error} (This is the first sheet's used range; if most of it is empty, delete the empty "
                          "rows and columns past your data in the spreadsheet and save again.)") from None


def _bounded_rows(rows: Iterable[tuple[Any, ...]], name: str) -> list[tuple[Any, ...]]:
    """The non-empty rows, trailing empty cells cut, refused as soon as they pass a limit."""
    kept: list[tuple[Any, ...]] = []
    width = 0
    for row in rows:
        end = len(row)
        while end and row[end - 1] is None:
            end -= 1
        if not end:
            continue
        width = max(width, end)
        kept.append(row[:end])
        check_shape(name, len(kept), width, so_far=True)
    return kept


def _bad_workbook(name: str, reason: object) -> IntakeError:
    return IntakeError(f"{name!r} could not be read as an Excel workbook ({reason}). Save it again as .xlsx or CSV.")


def read_parquet(path: Path, name: str) -> pd.DataFrame:
    """A Parquet file, its size checked from the footer first; nested columns become JSON text."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        metadata = parquet.metadata
    except MemoryError:
        raise
    except Exception as exc:  # pyarrow raises many types for corrupt input; all mean the same to the analyst
        raise _bad_parquet(name, exc) from exc
    check_shape(name, metadata.num_rows, metadata.num_columns)
    unpacked = sum(metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups))
    if unpacked > MAX_UNPACKED_BYTES:
        raise IntakeError(f"{name!r} unpacks to {human_size(unpacked)}; the limit is "
                          f"{human_size(MAX_UNPACKED_BYTES)}. Upload fewer rows or columns.")
    try:
        table = parquet.read()
    except MemoryError:
        raise
    except Exception as exc:
        raise _bad_parquet(name, exc) from exc
    return _flattened(table).to_pandas()


def _flattened(table: Any) -> Any:
    """The table with list, struct and map columns as JSON text (a cell of a frame holds one value)."""
    import json

    import pyarrow as pa
    import pyarrow.types as types

    for index, field in enumerate(table.schema):
        if types.is_nested(field.type):
            values = table.column(index).to_pylist()
            cells = [None if value is None else json.dumps(value, default=str) for value in values]
            table = table.set_column(index, field.name, pa.array(cells, pa.string()))
    return table


def _bad_parquet(name: str, reason: object) -> IntakeError:
    return IntakeError(f"{name!r} could not be read as a Parquet file ({reason}). Export it again or use CSV.")
