"""Reading files into Datasets: every supported format, and one clear IntakeError per kind of bad input."""
from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.intake import DEFAULT_MAX_BYTES, dataset_from_frame, load_dataset, read_frame
from core.errors import IntakeError

MIXED = pd.DataFrame(
    {
        "bill": [39.1, 39.5, 40.3, 36.7, 39.3, 38.9],
        "island": ["Biscoe", "Dream", "Biscoe", "Dream", "Torgersen", "Dream"],
        "species": ["Adelie", "Adelie", "Gentoo", "Gentoo", "Adelie", "Gentoo"],
    }
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


class Upload(io.BytesIO):
    """Stands in for Streamlit's UploadedFile: bytes with a name and a size."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name
        self.size = len(data)


# ---------------------------------------------------------------- happy paths, one per format


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = write(tmp_path, "data.csv", MIXED.to_csv(sep=delimiter, index=False))
    frame = read_frame(path)
    assert list(frame.columns) == ["bill", "island", "species"]
    assert frame["bill"].tolist() == MIXED["bill"].tolist()


@pytest.mark.parametrize("extension", [".tsv", ".tab", ".TSV"])
def test_tab_separated(tmp_path: Path, extension: str) -> None:
    path = write(tmp_path, f"data{extension}", MIXED.to_csv(sep="\t", index=False))
    assert read_frame(path).shape == (6, 3)


def test_csv_with_one_column_of_texts_keeps_commas_inside_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.csv", 'text\nhello there, friend\n"quoted, text"\nno comma here\n')
    frame = read_frame(path)
    assert frame["text"].tolist() == ["hello there, friend", "quoted, text", "no comma here"]


def test_txt_is_one_text_per_line_and_loads_as_texts(tmp_path: Path) -> None:
    path = write(tmp_path, "lines.txt", "first message here\n\n   \nsecond one, with a comma\r\nthird\n")
    dataset = load_dataset(path)
    assert dataset.frame["text"].tolist() == ["first message here", "second one, with a comma", "third"]
    assert dataset.kind == "text" and dataset.text_column == "text"


@pytest.mark.parametrize("extension", [".jsonl", ".ndjson"])
def test_jsonl_objects_and_bare_strings(tmp_path: Path, extension: str) -> None:
    lines = [json.dumps({"text": "my card is lost", "n": 1}), "", json.dumps("just a string"),
             json.dumps({"text": "refund please", "meta": {"a": 1}})]
    frame = read_frame(write(tmp_path, f"data{extension}", "\n".join(lines)))
    assert frame["text"].tolist() == ["my card is lost", "just a string", "refund please"]
    assert frame["meta"].iloc[2] == '{"a": 1}'


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    MIXED.to_parquet(path)
    frame = read_frame(path)
    pd.testing.assert_frame_equal(frame, MIXED, check_dtype=False)


def test_xlsx_reads_first_sheet_with_types(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    with pd.ExcelWriter(path) as writer:
        MIXED.to_excel(writer, sheet_name="first", index=False)
        pd.DataFrame({"other": [1, 2]}).to_excel(writer, sheet_name="second", index=False)
    frame = read_frame(path)
    assert list(frame.columns) == ["bill", "island", "species"]
    assert pd.api.types.is_float_dtype(frame["bill"])


def test_sources_bytes_uploaded_file_and_file_like(tmp_path: Path) -> None:
    data = MIXED.to_csv(index=False).encode()
    from_bytes = read_frame(data, "data.csv")
    from_upload = read_frame(Upload(data, "data.CSV"))
    named_stream = io.BytesIO(data)
    named_stream.name = "folder/data.csv"
    assert from_bytes.equals(from_upload) and from_bytes.equals(read_frame(named_stream))


def test_encodings_bom_and_windows_1252(tmp_path: Path) -> None:
    bom = read_frame("naïve,b\n1,2\n3,4\n".encode("utf-8-sig"), "a.csv")
    assert list(bom.columns) == ["naïve", "b"]
    latin = read_frame("name,city\nJosé,Zürich\nRenée,Besançon\n".encode("cp1252"), "a.csv")
    assert latin["city"].tolist() == ["Zürich", "Besançon"]
    utf16 = read_frame("a\tb\n1\t2\n3\t4\n".encode("utf-16"), "a.tsv")
    assert utf16.shape == (2, 2)


def test_headers_stripped_blank_cells_missing_empty_rows_dropped() -> None:
    frame = read_frame(b" a , b \n1,x\n,\n  ,   \n2,  \n", "a.csv")
    assert list(frame.columns) == ["a", "b"]
    assert len(frame) == 2
    assert frame["b"].isna().tolist() == [False, True]


def test_load_dataset_guesses_roles_and_names_after_file(tmp_path: Path) -> None:
    dataset = load_dataset(write(tmp_path, "birds.csv", MIXED.to_csv(index=False)))
    assert dataset.name == "birds"
    assert dataset.kind == "table"
    assert dataset.roles == {"bill": "numeric", "island": "categorical", "species": "label"}


def test_overrides_text_label_and_roles(tmp_path: Path) -> None:
    frame = pd.DataFrame({"message": ["short a", "short b", "short c", "short d"],
                          "category": ["x", "x", "y", "y"], "topic": ["p", "q", "p", "q"], "n": [1, 5, 2, 8]})
    dataset = load_dataset(write(tmp_path, "m.csv", frame.to_csv(index=False)), text_column="message",
                           label_column="topic", roles={"n": "ignore"})
    assert dataset.roles == {"message": "text", "category": "ignore", "topic": "label", "n": "ignore"}
    assert dataset.kind == "text" and dataset.label_column == "topic"
    assert any("'category' also looked like a label" in note for note in dataset.notes)


def test_numeric_strings_become_numbers(tmp_path: Path) -> None:
    lines = "\n".join(json.dumps({"w": w, "c": c}) for w, c in [("1.5", "a"), (" 2 ", "b"), (3, "a"), ("4", "b")])
    dataset = load_dataset(write(tmp_path, "w.jsonl", lines))
    assert dataset.roles["w"] == "numeric"
    assert dataset.frame["w"].tolist() == [1.5, 2.0, 3.0, 4.0]


def test_dataset_from_frame_keeps_missing_values_in_rows() -> None:
    frame = MIXED.assign(bill=[39.1, np.nan, 40.3, 36.7, 39.3, 38.9])
    dataset = dataset_from_frame(frame, name="birds")
    assert len(dataset.frame) == 6 and dataset.frame["bill"].isna().sum() == 1


# ---------------------------------------------------------------- bad inputs, one message each


@pytest.mark.parametrize("content", [b"", b"  \n\t\n  ", "\ufeff\n".encode()])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(IntakeError, match="is empty"):
        read_frame(write(tmp_path, "empty.csv", content))


@pytest.mark.parametrize("name", ["header.csv", "header.jsonl"])
def test_header_only_or_nothing_but_blanks(tmp_path: Path, name: str) -> None:
    content = "a,b,c\n" if name.endswith(".csv") else "\n"
    with pytest.raises(IntakeError, match="is empty" if name.endswith(".jsonl") else "header but no data rows"):
        read_frame(write(tmp_path, name, content))


def test_rows_of_only_delimiters_count_as_no_data(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="header but no data rows"):
        read_frame(write(tmp_path, "blank.csv", "a,b\n,\n , \n"))


def test_binary_with_nul_bytes(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="does not look like text.*NUL"):
        read_frame(write(tmp_path, "data.csv", b"a,b\n1,\x00\x01\x02\n"))


def test_png_renamed_to_csv(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with pytest.raises(IntakeError, match="does not look like text: it looks like a PNG image"):
        read_frame(write(tmp_path, "photo.csv", png))


def test_xlsx_renamed_to_csv_says_rename(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    MIXED.to_excel(buffer, index=False)
    with pytest.raises(IntakeError, match=r"\.xlsx extension"):
        read_frame(buffer.getvalue(), "book.csv")


def test_unknown_encoding(tmp_path: Path) -> None:
    content = "名前,都市\nこんにちは、世界,東京\n".encode("shift_jis")
    with pytest.raises(IntakeError, match="unknown encoding.*Save it as UTF-8"):
        read_frame(write(tmp_path, "jp.csv", content))


def test_no_usable_column(tmp_path: Path) -> None:
    content = "id,created,country\n1,2024-01-02,NZ\n2,2024-01-03,NZ\n3,2024-02-01,NZ\n"
    with pytest.raises(IntakeError, match="No usable column.*'id' \\(id\\).*'created' \\(ignore\\)"):
        load_dataset(write(tmp_path, "ids.csv", content))


def test_only_one_data_row(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="need at least two rows to cluster"):
        load_dataset(write(tmp_path, "one.csv", "a,b\n1,x\n"))


def test_duplicate_headers_are_named(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="duplicate column names: 'score', 'team'"):
        read_frame(write(tmp_path, "dups.csv", "team,score, team,score ,x\n1,2,3,4,5\n6,7,8,9,10\n"))


def test_duplicate_headers_in_excel(tmp_path: Path) -> None:
    path = tmp_path / "dups.xlsx"
    pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"]).to_excel(path, index=False)
    with pytest.raises(IntakeError, match="duplicate column names: 'a'"):
        read_frame(path)


def test_all_missing_columns_are_dropped_with_a_note(tmp_path: Path) -> None:
    dataset = load_dataset(write(tmp_path, "gaps.csv", "x,empty,y,also\n1,,2.5,\n2,,3.5,\n3,,1.0,\n"))
    assert list(dataset.frame.columns) == ["x", "y"]
    assert dataset.notes == ("Dropped empty column(s): 'empty', 'also'.",)


def test_all_missing_columns_leaving_nothing_usable(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="No usable column"):
        load_dataset(write(tmp_path, "gaps.csv", "row_id,empty\n1,\n2,\n3,\n"))


def test_every_column_empty_in_a_frame() -> None:
    with pytest.raises(IntakeError, match="Every column of 'blank' is empty"):
        dataset_from_frame(pd.DataFrame({"a": [None, None], "b": [np.nan, np.nan]}), name="blank")


def test_over_the_size_limit_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "big.csv", b"\x00" * 3000)  # would fail as binary if it were parsed
    with pytest.raises(IntakeError, match=r"'big.csv' is 2.9 KB, over the 2 KB limit"):
        read_frame(path, max_bytes=2048)


def test_upload_over_the_limit_is_refused_without_reading() -> None:
    class HugeUpload:
        name, size = "huge.csv", 300 * 1024 * 1024

        def getvalue(self) -> bytes:
            raise AssertionError("read before the size check")

    with pytest.raises(IntakeError, match="300 MB, over the 200 MB limit"):
        read_frame(HugeUpload())
    assert DEFAULT_MAX_BYTES == 200 * 1024 * 1024


def test_unsupported_extension_lists_supported(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match=r"Unsupported file type '\.docx'.*\.csv.*\.jsonl.*\.xlsx"):
        read_frame(write(tmp_path, "report.docx", "whatever"))


def test_malformed_jsonl_gives_line_number(tmp_path: Path) -> None:
    content = '{"text": "fine"}\n\n{"text": "broken\n'
    with pytest.raises(IntakeError, match="line 3 is not valid JSON"):
        read_frame(write(tmp_path, "bad.jsonl", content))


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="line 2 holds a list"):
        read_frame(write(tmp_path, "bad.jsonl", '{"text": "fine"}\n[1, 2]\n'))


@pytest.mark.parametrize("leading", ["", "\n  \n"])
def test_ragged_csv_gives_line_number(tmp_path: Path, leading: str) -> None:
    line = 4 + leading.count("\n")
    with pytest.raises(IntakeError, match=f"line {line} has 4 fields but the header has 3"):
        read_frame(write(tmp_path, "ragged.csv", leading + "a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n"))


@pytest.mark.parametrize("content", ["a,b\n1,2,3\n4,5,6\n7,8,9\n", "a,b\n1,2,3\n4,5\n6,7\n"])
def test_rows_longer_than_header_from_the_first_row(tmp_path: Path, content: str) -> None:
    with pytest.raises(IntakeError, match="more fields than its header \\(2 names\\)"):
        read_frame(write(tmp_path, "ragged.csv", content))


@pytest.mark.parametrize("choice", ["text_column", "label_column"])
def test_chosen_column_that_does_not_exist(tmp_path: Path, choice: str) -> None:
    path = write(tmp_path, "m.csv", MIXED.to_csv(index=False))
    with pytest.raises(IntakeError, match="No column named 'nope'.*Columns are: bill, island, species"):
        load_dataset(path, **{choice: "nope"})


def test_chosen_column_that_is_empty(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="Column 'body' in 'm' has no values"):
        load_dataset(write(tmp_path, "m.csv", "body,x\n,1\n,2\n"), text_column="body")


def test_forced_numeric_on_words(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="'island' is marked numeric.*e.g. 'Biscoe'"):
        load_dataset(write(tmp_path, "m.csv", MIXED.to_csv(index=False)), roles={"island": "numeric"})


def test_unknown_role_and_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", MIXED.to_csv(index=False))
    with pytest.raises(IntakeError, match="Unknown role 'feature'"):
        load_dataset(path, roles={"bill": "feature"})
    with pytest.raises(IntakeError, match="Unknown kind 'image'"):
        load_dataset(path, kind="image")  # type: ignore[arg-type]


def test_corrupt_parquet_and_xlsx(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="could not be read as a Parquet file"):
        read_frame(write(tmp_path, "bad.parquet", b"PAR1 not really"))
    with pytest.raises(IntakeError, match="could not be read as an Excel workbook"):
        read_frame(write(tmp_path, "bad.xlsx", b"PK\x03\x04 not really a zip"))


@pytest.mark.skipif(importlib.util.find_spec("xlrd") is not None, reason="xlrd installed: .xls is readable")
def test_old_xls_without_reader(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match=r"Old \.xls workbooks.*Save it as \.xlsx or CSV"):
        read_frame(write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0 old office file"))


def test_missing_path_and_unnamed_bytes(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="No file at"):
        read_frame(tmp_path / "absent.csv")
    with pytest.raises(IntakeError, match="without a file name"):
        read_frame(b"a,b\n1,2\n")


# ---------------------------------------------------------------- issue #11: odd input read right, not crashed on


def test_a_utf8_file_with_one_windows_1252_line_is_decoded_line_by_line(tmp_path: Path) -> None:
    content = "text,n\ncafé crème,1\nnaïve idea,2\n".encode() + "Zürich señor,3\n".encode("cp1252")
    dataset = load_dataset(write(tmp_path, "mixed.csv", content))
    assert dataset.frame["text"].tolist() == ["café crème", "naïve idea", "Zürich señor"]
    assert any("line 4" in note and "Windows-1252" in note for note in dataset.notes)


def test_infinities_in_numeric_columns_become_missing_values_with_a_note(tmp_path: Path) -> None:
    from core.embed.tabular import table_features

    content = "size,weight,kind\n1.5,inf,a\n2.5,3,b\n-inf,4,a\n4.5,1e999,b\n5,6,a\n"
    dataset = load_dataset(write(tmp_path, "sizes.csv", content))
    assert dataset.frame["size"].isna().tolist() == [False, False, True, False, False]
    assert dataset.frame["weight"].isna().sum() == 2
    assert {note for note in dataset.notes if "infinite" in note} == {
        "Column 'size': 1 infinite value(s) treated as missing.",
        "Column 'weight': 2 infinite value(s) treated as missing."}
    features = table_features(dataset.frame, ["size", "weight"], ["kind"])
    assert np.isfinite(features).all()


def test_deep_json_nesting_is_refused_without_recursion(tmp_path: Path) -> None:
    content = '{"text": "fine"}\n' + "[" * 100_000 + "]" * 100_000 + "\n"
    with pytest.raises(IntakeError, match="line 2 nests JSON values more than 64 levels deep"):
        read_frame(write(tmp_path, "deep.jsonl", content))


def test_brackets_inside_json_strings_are_not_nesting(tmp_path: Path) -> None:
    content = json.dumps({"text": "[" * 500 + "{" * 500, "n": 1}) + "\n" + json.dumps({"text": "b", "n": 2})
    assert read_frame(write(tmp_path, "brackets.jsonl", content))["n"].tolist() == [1, 2]


def test_a_sheet_declaring_too_many_cells_is_refused_before_its_cells_are_read(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["a", "b"])
    book.active.append([1, 2])
    book.active.cell(8000, 8000, "x")
    book.save(tmp_path / "sparse.xlsx")
    with pytest.raises(IntakeError, match="8,000 columns; the limit is 2,000.*used range"):
        read_frame(tmp_path / "sparse.xlsx")


def test_a_parquet_file_is_checked_from_its_footer(tmp_path: Path) -> None:
    pd.DataFrame({"x": np.zeros(1_100_000, dtype=np.int8)}).to_parquet(tmp_path / "rows.parquet")
    with pytest.raises(IntakeError, match="1,100,000 rows; the limit is 1,000,000"):
        read_frame(tmp_path / "rows.parquet")


def test_too_many_columns_and_cells_are_refused_before_parsing(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(2500))
    with pytest.raises(IntakeError, match="2,500 columns; the limit is 2,000"):
        read_frame(write(tmp_path, "wide.csv", header + "\n" + ",".join("1" * 2500) + "\n"))
    many_keys = "\n".join(json.dumps({f"k{i}": i}) for i in range(2100))
    with pytest.raises(IntakeError, match="at least 2,001 columns"):
        read_frame(write(tmp_path, "keys.jsonl", many_keys))


def test_one_huge_value_is_refused_naming_where_it_is(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match=r"over 100,000 characters \(column 'text', row 2\)"):
        read_frame(write(tmp_path, "long.csv", "text,n\nshort,1\n" + "word " * 25_000 + ",2\n"))
