"""Text from a file's bytes: which encoding, decided line by line where a file mixes them, and said in a note.

UTF-8 (with or without BOM), UTF-16/UTF-32 with a BOM and UTF-16 without one are read whole. A file that is not valid
UTF-8 is read per line: lines that are UTF-8 stay UTF-8 and only the others are read as Windows-1252, because a
spreadsheet that appended one Windows line to a UTF-8 file must not turn every "café" into "cafÃ©". Bytes no
encoding here reads plausibly (Shift-JIS, binary) are refused.
"""
from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from core.errors import IntakeError

SNIFF_BYTES = 64 * 1024  # how much of a file the file-type and UTF-16 checks look at
LISTED_LINES = 5  # line numbers named in a note
_LONE_SYMBOLS = "€£©®°™"
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")

_MAGIC = {  # leading bytes of files people rename by mistake, and what to tell them
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (an .xlsx workbook is one: give it the .xlsx extension)",
    b"\xd0\xcf\x11\xe0": "an old Office file (save it as .xlsx or CSV)",
    b"PAR1": "a Parquet file (give it the .parquet extension)",
    b"\x1f\x8b": "a gzip archive (unpack it first)",
}
_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes, name: str) -> tuple[str, list[str]]:
    """The text of `data` and notes on how it was read; IntakeError for binary files and unknown encodings."""
    head = data[:SNIFF_BYTES]
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise IntakeError(f"{name!r} does not look like text: it looks like {what}. Choose a text or table file.")
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return _whole(data, encoding, name), []
    bare_utf16 = _utf16_without_bom(head)
    if bare_utf16:
        return _whole(data, bare_utf16, name), [f"{name!r} was read as UTF-16 (it has no byte-order mark)."]
    if b"\x00" in data:
        raise IntakeError(
            f"{name!r} does not look like text (it contains NUL bytes). Choose a CSV or text file; "
            "if it is UTF-16 text without a byte-order mark, save it as UTF-8."
        )
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return _line_by_line(data, name)


def _whole(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise _unknown_encoding(name) from None


def _utf16_without_bom(head: bytes) -> str | None:
    """"utf-16-le"/"utf-16-be" when nearly every other byte is NUL, as in mostly-ASCII UTF-16 text, else None."""
    pairs = len(head) // 2
    if pairs < 4:
        return None
    even_nul, odd_nul = head[0:2 * pairs:2].count(0), head[1:2 * pairs:2].count(0)
    if odd_nul >= 0.9 * pairs and even_nul <= 0.1 * pairs:
        return "utf-16-le"
    if even_nul >= 0.9 * pairs and odd_nul <= 0.1 * pairs:
        return "utf-16-be"
    return None


def _line_by_line(data: bytes, name: str) -> tuple[str, list[str]]:
    """UTF-8 where a line is UTF-8, Windows-1252 where it is not (when those lines read plausibly), with a note."""
    lines = data.removeprefix(codecs.BOM_UTF8).split(b"\n")
    decoded: list[str] = []
    fallback: list[int] = []
    for number, line in enumerate(lines):
        try:
            decoded.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            try:
                decoded.append(line.decode("cp1252"))
            except UnicodeDecodeError:
                raise _unknown_encoding(name) from None
            fallback.append(number)
    if not _plausible([decoded[number] for number in fallback]):
        raise _unknown_encoding(name)
    if len(fallback) == sum(1 for line in lines if not line.isascii()):
        note = f"{name!r} is not UTF-8; it was read as Windows-1252. Check its accented letters."
    else:
        listed = ", ".join(str(number + 1) for number in fallback[:LISTED_LINES])
        more = f" and {len(fallback) - LISTED_LINES} more" if len(fallback) > LISTED_LINES else ""
        note = (f"{len(fallback)} line(s) of {name!r} are not UTF-8 (line {listed}{more}); they were read as "
                "Windows-1252 and the rest as UTF-8. Check the accented letters on those lines.")
    return "\n".join(decoded), [note]


def _plausible(lines: list[str]) -> bool:
    """Windows-1252 decodes almost anything; accept it only without control characters and when the accented
    characters are mostly letters (symbols such as € that Western text uses alone aside), as text in another
    encoding read this way is a jumble of symbols."""
    if any(ord(ch) < 32 and ch not in "\t\r\f" for line in lines for ch in line):
        return False
    accented = [ch for line in lines for ch in line if ord(ch) > 127 and ch not in _LONE_SYMBOLS]
    return sum(ch.isalpha() for ch in accented) >= len(accented) / 2


def _unknown_encoding(name: str) -> IntakeError:
    return IntakeError(
        f"{name!r} is in an unknown encoding (not UTF-8 or Windows-1252). Save it as UTF-8 and upload again."
    )


def lines_of(text: str) -> Iterator[str]:
    """The lines of `text`, ends kept, one at a time (no second copy of a big file). Lines end at LF, CRLF or a lone
    CR, as for the csv module and pandas, and nowhere else (str.splitlines also splits at U+2028, which a JSON
    string may hold)."""
    for match in _LINE.finditer(text):
        if match.group():
            yield match.group()
