"""The hostile-input corpus: every file, how it is made, and what intake must do with it.

    python -m tests.faults.make_corpus      # (re)writes tests/faults/corpus/ (each file at most a few hundred KB)

`write_large(folder)` writes the big cases (their size is the point) for a test's temporary folder; they are never
committed. A case is either refused, with one IntakeError message containing `refused`, or handled: it loads, with
a note containing `note`, a value or column name equal to `value`, and `rows` rows when given.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import random
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"

TEXTS = ["café crème au lait", "naïve façade près de la gare", "crème brûlée pour deux personnes",
         "Straße in München bei Nacht", "señor García llegó tarde", "Besançon sous la pluie",
         "smörgåsbord in Göteborg", "jalapeño salsa verde picante", "déjà vu à Montréal",
         "Ångström units in Oslo", "piñata for the fiesta", "über alles in Köln"]
INJECTIONS = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", " =1+1", "\uff1d1+1",
              "=HYPERLINK(\"http://x.example\",\"click\")", "\uff20A1"]


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], bytes]
    refused: str | None = None
    note: str | None = None
    value: str | None = None
    rows: int | None = None
    large: bool = False


def _table(rows: list[list[object]], delimiter: str = ",", quoting: int = csv.QUOTE_MINIMAL) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n", quoting=quoting).writerows(rows)
    return out.getvalue()


def _texts_table(delimiter: str = ",") -> str:
    return _table([["text", "score"]] + [[text, (i * 7) % 13 + 0.5] for i, text in enumerate(TEXTS)], delimiter)


def _workbook(rows: list[list[object]], big_cell: tuple[int, int] | None = None) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if big_cell:
        sheet.cell(*big_cell, "x")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _small_workbook(n: int = 12) -> bytes:
    return _workbook([["name", "size", "colour"]] + [[f"item {i}", i * 1.5, ["red", "blue"][i % 2]]
                                                     for i in range(n)])


def _rezip(data: bytes, member: str, edit: Callable[[bytes], bytes]) -> bytes:
    """The zip `data` with `member` rewritten by `edit`, every member deflated at level 9."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED,
                                                                      compresslevel=9) as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info.filename, edit(content) if info.filename == member else content)
    return out.getvalue()


def _zip_bomb_workbook() -> bytes:
    """80 MB of padding inside the sheet's XML: it packs about a thousand times."""
    return _rezip(_small_workbook(), "xl/worksheets/sheet1.xml",
                  lambda xml: xml.replace(b"</worksheet>", b"<!--" + b" " * 80_000_000 + b"--></worksheet>"))


def _declared_4gb_workbook() -> bytes:
    """A small workbook whose zip directory says the sheet unpacks to 4 GB."""
    data = bytearray(_small_workbook())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46:at + 46 + length]) == b"xl/worksheets/sheet1.xml":
            struct.pack_into("<I", data, at + 24, 0xFFFFFFF0)
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


def _lying_dimension_workbook() -> bytes:
    """30 data rows whose sheet declares its used range to be A1:B2."""
    data = _workbook([["name", "size", "colour"]] + [[f"item {i}", i * 1.5, ["red", "blue"][i % 2]]
                                                     for i in range(30)])
    return _rezip(data, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(b'ref="A1:C31"', b'ref="A1:B2"'))


def _parquet(table_of: Callable[[], object], **options) -> Callable[[], bytes]:
    def make() -> bytes:
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(table_of(), buffer, **options)
        return buffer.getvalue()

    return make


def _zeros():
    import numpy as np
    import pyarrow as pa

    return pa.table({"x": pa.array(np.zeros(20_000_000, dtype=np.int64))})


def _one_long_string_repeated():
    """900,000 rows of one 2,000-character string: a dictionary page of 2 KB, 1.8 GB once decoded."""
    import numpy as np
    import pyarrow as pa

    indices = pa.array(np.zeros(900_000, dtype=np.int32))
    return pa.table({"text": pa.DictionaryArray.from_arrays(indices, pa.array(["lorem ipsum " * 166]))})


def _nested():
    import pyarrow as pa

    return pa.table({"text": TEXTS, "tags": [[f"t{i}", "x"] for i in range(len(TEXTS))],
                     "meta": [{"a": i, "b": {"c": str(i)}} for i in range(len(TEXTS))]})


def _csv_injection() -> bytes:
    """Formulas in every header and every cell; the last column repeats three of them (a usable category)."""
    header = [INJECTIONS[0], INJECTIONS[1], INJECTIONS[3], INJECTIONS[7], "segment"]
    rows = [[f"{INJECTIONS[(i + j) % len(INJECTIONS)]} {i}" for j in range(4)] + [INJECTIONS[i % 3]]
            for i in range(24)]
    return _table([header] + rows, quoting=csv.QUOTE_ALL).encode()


def _nan_inf() -> bytes:
    special = ["nan", "inf", "-inf", "1e999", "", "NaN"]
    rows = [[special[i] if i < len(special) else i * 1.25, [1e308, -1e308, 2.5e307][i % 3] if i % 4 else i,
             "ab"[i % 2]] for i in range(16)]
    return _table([["x", "weight", "group"]] + rows).encode()


def _mixed_encoding() -> bytes:
    lines = _texts_table().splitlines(keepends=True)
    return "".join(lines[:5]).encode() + lines[5].encode("cp1252") + "".join(lines[6:]).encode()


CASES: list[Case] = [
    # spreadsheets and their bombs
    Case("sparse_cell_8000x8000.xlsx", lambda: _workbook([["a", "b"], [1, 2]], (8000, 8000)), refused="8,000"),
    Case("zip_bomb.xlsx", _zip_bomb_workbook, refused="compression bomb"),
    Case("declared_4gb.xlsx", _declared_4gb_workbook, refused="unpacks to 4.0 GB"),
    Case("lying_dimension.xlsx", _lying_dimension_workbook, rows=30),
    Case("truncated.xlsx", lambda: _small_workbook()[:1500], refused="could not be read as an Excel workbook"),
    Case("xlsx_renamed.csv", _small_workbook, refused=".xlsx extension"),
    # parquet
    Case("rows_bomb.parquet", _parquet(_zeros, compression="zstd"), refused="20,000,000 rows"),
    Case("dictionary_bomb.parquet", _parquet(_one_long_string_repeated, compression="zstd", store_schema=False),
         refused="of memory to read"),
    Case("nested.parquet", _parquet(_nested), value='["t0", "x"]'),
    Case("corrupt.parquet", lambda: b"PAR1" + bytes(range(256)) * 4 + b"PAR1",
         refused="could not be read as a Parquet file"),
    # JSON lines
    Case("deep_array_nesting.jsonl", lambda: ('{"text": "fine"}\n' + "[" * 100_000 + "]" * 100_000).encode(),
         refused="nests JSON values more than 64 levels"),
    Case("deep_object_nesting.jsonl", lambda: ('{"a":' * 5000 + "1" + "}" * 5000 + "\n").encode(),
         refused="nests JSON values more than 64 levels"),
    Case("brackets_in_strings.jsonl", lambda: "\n".join(
        json.dumps({"text": "[[[{{{" * 20 + text + "}}}]]]" * 20, "n": i * 0.5}) for i, text in enumerate(TEXTS)
    ).encode(), rows=len(TEXTS)),
    Case("huge_number.jsonl", lambda: ('{"text": "a", "n": 1}\n{"text": "b", "n": ' + "9" * 5000 + "}\n").encode(),
         refused="not valid JSON"),
    Case("new_keys_every_line.jsonl", lambda: "\n".join(json.dumps({f"k{i}": i}) for i in range(2500)).encode(),
         refused="2,001 columns"),
    Case("wide_json_line.jsonl", lambda: json.dumps({f"k{i}": i for i in range(3000)}).encode(),
         refused="2,001 columns"),
    Case("u2028_inside_strings.jsonl", lambda: "\n".join(
        json.dumps({"text": f"{text}\u2028second line\u2029"}, ensure_ascii=False) for text in TEXTS).encode(),
         rows=len(TEXTS)),
    # numbers
    Case("nan_inf.csv", _nan_inf, note="infinite value(s) treated as missing"),
    # encodings and byte-order marks
    Case("mixed_utf8_and_windows_1252.csv", _mixed_encoding, note="not UTF-8 (line 6)", value="café crème au lait"),
    Case("utf16_bom.csv", lambda: _texts_table().encode("utf-16"), value="crème brûlée pour deux personnes"),
    Case("utf16le_no_bom.tsv", lambda: _texts_table("\t").encode("utf-16-le"), note="UTF-16",
         value="Straße in München bei Nacht"),
    Case("utf32_bom.csv", lambda: _texts_table().encode("utf-32"), value="smörgåsbord in Göteborg"),
    Case("utf8_bom.csv", lambda: codecs.BOM_UTF8 + _texts_table().replace("text,", "naïve,", 1).encode(),
         value="naïve"),
    Case("windows_1252.csv", lambda: (_texts_table() + "euro sign € here,3.5\n").encode("cp1252"),
         note="read as Windows-1252", value="euro sign € here"),
    Case("latin_1.csv", lambda: _texts_table().encode("latin-1"), note="Windows-1252", value="Besançon sous la pluie"),
    Case("shift_jis.csv", lambda: "名前,都市\nこんにちは、世界,東京\nさようなら、友,大阪\n".encode("shift_jis"),
         refused="unknown encoding"),
    Case("crlf_line_ends.csv", lambda: _texts_table().replace("\n", "\r\n").encode(), rows=len(TEXTS)),
    Case("cr_only_line_ends.csv", lambda: _table([["a", "b", "c"]] + [[i, i * 2.5, "xy"[i % 2]] for i in range(900)])
         .replace("\n", "\r").encode(), rows=900),
    # sizes
    Case("wide_10k_columns.csv", lambda: _table([[f"c{i}" for i in range(10_000)], list(range(10_000)),
                                                 list(range(10_000))]).encode(), refused="10,000 columns"),
    Case("huge_cell.csv", lambda: ("text,score\n" + "word " * 30_000 + ",1\nshort,2\n").encode(),
         refused="over 100,000 characters"),
    # not data at all
    Case("empty.csv", lambda: b"", refused="is empty"),
    Case("whitespace_only.csv", lambda: b"  \n\t\n \r\n", refused="is empty"),
    Case("png_renamed.csv", lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), refused="PNG image"),
    Case("random_binary.csv", lambda: random.Random(7).randbytes(8192), refused="does not look like text"),
    Case("gzip_renamed.csv", lambda: gzip.compress(b"a,b\n1,2\n3,4\n", mtime=0), refused="gzip"),
    Case("nul_after_64kb.csv", lambda: (_texts_table() * 400 + "late,\x00\n").encode(), refused="NUL bytes"),
    # malformed tables
    Case("ragged.csv", lambda: b"a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n", refused="has 4 fields but the header has 3"),
    Case("header_only.csv", lambda: b"a,b,c\n", refused="header but no data rows"),
    Case("one_row.csv", lambda: b"a,b\n1,x\n", refused="at least two rows"),
    Case("only_delimiters.csv", lambda: b",,,\n,,,\n , , ,\n", refused="no data rows"),
    Case("duplicate_headers.csv", lambda: b"a,b,a\n1,2,3\n4,5,6\n", refused="duplicate column names"),
    Case("quoted_newlines.csv", lambda: _table([["text", "n"]] + [[f"{text},\nline two, \"quoted\"\r\nthree", i]
                                                                 for i, text in enumerate(TEXTS)]).encode(),
         rows=len(TEXTS)),
    Case("control_and_bidi_chars.csv", lambda: _table([["text", "n"]] + [
        [f"{text}\u202e reversed\u200b\x0b\x1c end", i * 0.5] for i, text in enumerate(TEXTS)]).encode(),
         rows=len(TEXTS)),
    Case("unicode_column_names.csv", lambda: _table([["📦 box", "مدينة", "都市"]] + [
        [text, i * 1.5, "ab"[i % 2]] for i, text in enumerate(TEXTS)]).encode(), value="مدينة"),
    Case("csv_injection.csv", _csv_injection, rows=24),
    # big: generated for the tests, never committed
    Case("rows_bomb.csv", lambda: b"n\n" + b"1\n" * 1_200_000, refused="1,200,000 rows", large=True),
    Case("rows_bomb.txt", lambda: b"hello there\n" * 1_200_000, refused="1,200,000 rows", large=True),
    Case("comma_bomb.csv", lambda: b"a,b\n" + b"," * 30_000_000 + b"\n1,2\n", refused="of memory to read",
         large=True),
    Case("cells_bomb.csv", lambda: (",".join(f"c{i}" for i in range(200)) + "\n").encode()
         + (b"," * 199 + b"x\n") * 60_000, refused="12,000,000 cells", large=True),
    Case("long_list.jsonl", lambda: json.dumps({"text": "a", "v": list(range(3_000_000))}).encode(),
         refused="over 100,000 characters", large=True),
]


def write_corpus(folder: Path = CORPUS) -> list[Path]:
    """Write the small cases into `folder`; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for case in CASES:
        if not case.large:
            path = folder / case.name
            path.write_bytes(case.make())
            written.append(path)
    return written


def write_large(folder: Path) -> list[Path]:
    """Write the big cases into `folder` (a test's temporary folder); return their paths."""
    written = []
    for case in CASES:
        if case.large:
            path = folder / case.name
            path.write_bytes(case.make())
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write_corpus():
        print(f"{path.stat().st_size:>9,}  {path.name}")
