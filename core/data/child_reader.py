"""The child process of core.data.sandbox: cap the memory, read one file with one reader, pickle the frame.

`python -m core.data.child_reader READER SOURCE TARGET NAME` exits 0 with the frame pickled to TARGET, USER_ERROR
with an IntakeError's message on stdout, or OUT_OF_MEMORY.
"""
from __future__ import annotations

import resource
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core.data.binary_formats import read_excel, read_parquet
from core.data.delimited import parse_delimited
from core.data.limits import PARSER_MEMORY_BYTES
from core.data.sandbox import OUT_OF_MEMORY, USER_ERROR
from core.errors import IntakeError


def read_csv(path: Path, name: str) -> pd.DataFrame:
    return parse_delimited(path.read_bytes(), name, None, isolated=True)[0]


def read_tsv(path: Path, name: str) -> pd.DataFrame:
    return parse_delimited(path.read_bytes(), name, "\t", isolated=True)[0]


READERS: dict[str, Callable[[Path, str], pd.DataFrame]] = {
    "excel": read_excel, "parquet": read_parquet, "csv": read_csv, "tsv": read_tsv,
}


def main(argv: list[str]) -> int:
    reader, source, target, name = argv
    resource.setrlimit(resource.RLIMIT_DATA, (PARSER_MEMORY_BYTES, PARSER_MEMORY_BYTES))
    try:
        READERS[reader](Path(source), name).to_pickle(target)
    except IntakeError as error:
        print(error, end="")
        return USER_ERROR
    except MemoryError:
        return OUT_OF_MEMORY
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
