"""The clean-file fast path of the extract reader gives exactly what the careful, record-by-record path gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from landing import readers
from landing.readers import MAX_FIELD_CHARS, _careful_rows, _clean_rows, decode_lines, read_extract

HEADER = "id,surname,note"
PLAIN_BUT_TRICKY = [
    "1,Smith Jr,plain",
    "",
    "   ",
    "2,Zoë,  padded  ",
    "3,,",
    "4,\u00a0nbsp\u00a0,tab\there",
    "\t",
    "5,x'y,last",
]
TRICKY_BUT_VALID = [
    '1,"Smith, Jr",plain',
    '2,"O""Brien","say ""hi"""',
    "",
    "   ",
    '3,Zoë,"  padded  "',
    '4,x"y"z,"quoted, with comma"',
    '5,,""',
    "6,\u00a0nbsp\u00a0,tab\there",
    '7,"",last',
]
ENDINGS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}


def _file(tmp_path: Path, lines: list[str], end: str, codec: str = "utf-8", bom: bytes = b"") -> Path:
    path = tmp_path / "gp.csv"
    path.write_bytes(bom + end.join([HEADER, *lines]).encode(codec) + end.encode(codec))
    return path


def _careful(path: Path) -> readers.RawFile:
    clean = readers._clean_rows
    readers._clean_rows = lambda *args: None  # type: ignore[assignment]
    try:
        return read_extract(path, "utf-8", ["id", "surname", "note"])
    finally:
        readers._clean_rows = clean


@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize(("codec", "bom"), [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe")])
def test_fast_path_equals_careful_path_on_tricky_but_valid_files(tmp_path: Path, ending: str, codec: str,
                                                                 bom: bytes) -> None:
    path = _file(tmp_path, PLAIN_BUT_TRICKY, ENDINGS[ending], codec, bom)
    text = decode_lines(path.name, path.read_bytes()[len(bom):] if codec == "utf-8" else path.read_bytes(), codec)
    assert _clean_rows(text.lines, 3, 1) is not None  # the fast path is taken
    fast, careful = read_extract(path, "utf-8", ["id", "surname", "note"]), _careful(path)
    assert_frame_equal(fast.frame, careful.frame)
    assert (fast.rows_read, fast.blank_lines, fast.rejects, fast.warnings, fast.header) == (
        careful.rows_read, careful.blank_lines, careful.rejects, careful.warnings, careful.header)
    assert fast.frame.get_column("_row").to_list() == [2, 5, 6, 7, 9]
    assert fast.frame.get_column("note").to_list() == ["plain", "  padded  ", "", "tab\there", "last"]
    assert fast.blank_lines == 3


def test_quoted_fields_are_read_the_same_by_the_careful_path(tmp_path: Path) -> None:
    path = _file(tmp_path, TRICKY_BUT_VALID, "\r\n")
    got = read_extract(path, "utf-8", ["id", "surname", "note"])
    assert got.frame.get_column("_row").to_list() == [2, 3, 6, 7, 8, 9, 10]
    assert got.frame.get_column("surname").to_list()[:2] == ["Smith, Jr", 'O"Brien']
    assert got.blank_lines == 2


@pytest.mark.parametrize("line", [
    '8,"line\nbreak",x',  # a quoted line break: a record over two lines
    "8,too,many,fields",
    "8,short",
    f"8,{'x' * (MAX_FIELD_CHARS + 1)},long",
    '8,"unbalanced,x',
    '8,"quoted",x',
    "not blank",
])
def test_anything_unusual_goes_to_the_careful_path(tmp_path: Path, line: str) -> None:
    path = _file(tmp_path, [*PLAIN_BUT_TRICKY, line], "\n")
    text = decode_lines(path.name, path.read_bytes(), "utf-8")
    assert _clean_rows(text.lines, 3, 1) is None
    got = read_extract(path, "utf-8", ["id", "surname", "note"])
    want = _careful_rows(path.name, text, ["id", "surname", "note"], {0, 1, 2}, 1, False)
    assert got.frame.get_column("_row").to_list() == want.numbers
    assert got.rejects == want.rejects
