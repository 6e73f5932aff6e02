"""How big an input may be, checked before (or while) it is read, never after it has filled the memory.

Each limit is a named constant; each refusal says what was too big and what to do. The sizes suit a 2-core server
shared by several people: clustering more rows than MAX_ROWS there would take hours anyway.
"""
from __future__ import annotations

from core.errors import IntakeError

MAX_FILE_BYTES = 200 * 1024 * 1024  # the upload itself
MAX_ROWS = 1_000_000
MAX_COLUMNS = 2_000
MAX_CELLS = 10_000_000  # rows × columns: what the frame holds, whatever the file's compression
MAX_CELL_CHARS = 100_000  # one value; embedders read the first few hundred tokens, an LLM prompt must fit
MAX_JSON_DEPTH = 64  # nesting of one JSON value: deeper is a bomb, not a record
MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # what an .xlsx (a zip) may declare to unpack to, all members together
MAX_PACKING_RATIO = 200  # unpacked / packed size of one zip member over 1 MB: real workbooks stay far below
PARSER_MEMORY_BYTES = 1536 * 1024 * 1024  # the child process reading risky files (core.data.sandbox), RLIMIT_DATA
PARSER_SECONDS = 120  # the same child's time to read one file


def check_shape(name: str, rows: int, columns: int, *, so_far: bool = False) -> None:
    """IntakeError when a table of `rows` × `columns` would be over MAX_ROWS, MAX_COLUMNS or MAX_CELLS; `so_far`
    when the file is still being read (the counts are then lower bounds)."""
    has = "has at least" if so_far else "has"
    if columns > MAX_COLUMNS:
        raise IntakeError(f"{name!r} {has} {columns:,} columns; the limit is {MAX_COLUMNS:,}. Keep the columns you "
                          "want to cluster on (or transpose a table written sideways) and upload again.")
    if rows > MAX_ROWS:
        raise IntakeError(f"{name!r} {has} {rows:,} rows; the limit is {MAX_ROWS:,}. Upload a sample of the rows.")
    if rows * columns > MAX_CELLS:
        raise IntakeError(f"{name!r} {has} {rows:,} rows × {columns:,} columns = {rows * columns:,} cells; the "
                          f"limit is {MAX_CELLS:,}. Upload fewer rows or fewer columns.")


def check_cell(name: str, chars: int, where: str) -> None:
    """IntakeError when one value (at `where`, e.g. "line 3") is longer than MAX_CELL_CHARS."""
    if chars > MAX_CELL_CHARS:
        raise IntakeError(f"{name!r} holds a value of over {MAX_CELL_CHARS:,} characters ({where}). Shorten or split "
                          "long documents.")


def human_size(size: int) -> str:
    """Bytes as people read them: "512 bytes", "2.9 KB", "200 MB", "1.5 GB"."""
    value = float(size)
    for unit in ("bytes", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "bytes" or value.is_integer() else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
