"""Reading a file in a child process whose memory and time are capped, so that a hostile file cannot take the
server down: the parsers of Excel and Parquet files, and of delimited files whose fields cannot be bounded cheaply.

Why a child for those and bounded in-process parsing for the rest, as measured on the 2-core server: openpyxl and
Arrow allocate from what a file *declares* (a 4.9 KB workbook with one cell at (8000, 8000) took 1.6 GB to read, a
184 KB Parquet file 871 MB), metadata cannot bound every case (shared strings, dictionary pages decoded in full),
and a delimited file's fields can only be counted exactly by a parser (a quoted delimiter does not split), which
allocates per field. Text whose delimiters and line breaks stay under the limits, JSONL and TXT are parsed in the
server, with bounds checked before and while reading, so their memory follows the capped file size. The child costs
about a second (a fresh interpreter importing pandas, pyarrow and openpyxl). Its data segment is capped with
RLIMIT_DATA at PARSER_MEMORY_BYTES (RLIMIT_AS also counts the address space Arrow reserves, and failed a 160 MB
read), its time at PARSER_SECONDS. The frame comes back pickled: the child is our own code run as the same user, so
the pickle crosses no trust boundary.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from core.data.limits import PARSER_MEMORY_BYTES, PARSER_SECONDS, human_size
from core.errors import IntakeError

USER_ERROR = 3  # the child's exit status when it printed an IntakeError's message on stdout
OUT_OF_MEMORY = 4
CHILD_MODULE = "core.data.child_reader"
_ROOT = Path(__file__).resolve().parents[2]


def read_in_child(reader: str, data: bytes, name: str) -> pd.DataFrame:
    """The frame the child's `reader` ("excel", "parquet", "csv", "tsv") makes of `data`, under the caps."""
    with tempfile.TemporaryDirectory(prefix="clusterlens-intake-") as folder:
        source = Path(folder) / f"input{Path(name).suffix.lower()}"  # openpyxl goes by the extension
        target = Path(folder) / "frame.pickle"
        source.write_bytes(data)
        command = [sys.executable, "-m", CHILD_MODULE, reader, str(source), str(target), name]
        try:
            done = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True, timeout=PARSER_SECONDS)
        except subprocess.TimeoutExpired:
            raise IntakeError(f"Reading {name!r} took more than {PARSER_SECONDS} s. Save the data as CSV with fewer "
                              "rows, or split the file, and upload that.") from None
        if done.returncode == 0:
            return pd.read_pickle(target)
        if done.returncode == USER_ERROR:
            raise IntakeError(done.stdout.strip())
        if done.returncode == OUT_OF_MEMORY or done.returncode < 0:
            raise IntakeError(f"{name!r} needs more than {human_size(PARSER_MEMORY_BYTES)} of memory to read, far "
                              "more than its size suggests (packed data that unpacks enormously, or rows of millions "
                              "of fields). Upload fewer rows or columns, as plain CSV.")
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"The {reader} reader failed on {name!r}: {last}")
