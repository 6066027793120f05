"""Read one extract file into string columns, keeping every line accounted for.

Every physical line after the header is either a data row (with its line number), a blank line,
or a row set aside with a reason (unparseable, wrong encoding). Nothing is dropped silently.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

ROW = "_row"
BOM = "\ufeff"
MAX_FIELD_CHARS = 10_000
CSV_FIELD_LIMIT = 1 << 30


class FileUnreadable(Exception):
    """The whole file cannot be used tonight (empty, binary, missing required columns)."""

    def __init__(self, file: str, check: str, message: str, header: list[str] | None = None) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file
        self.check = check
        self.header = header or []


@dataclass
class RawFile:
    """One file's rows as strings, with what was set aside while reading."""

    file: str
    frame: pl.DataFrame  # one Utf8 column per expected column, plus _row
    rows_read: int
    blank_lines: int
    rejects: list[dict[str, object]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)


def _reject(file: str, row: int, reason: str, value: str, check: str = "parse") -> dict[str, object]:
    return {"file": file, "row": row, "column": None, "value": value, "reason": reason, "check": check}


ALTERNATE_CODEC = {"utf-8": "cp1252", "cp1252": "utf-8", "latin-1": "utf-8"}


def _decode(file: str, data: bytes, encoding: str) -> tuple[list[str], list[dict[str, object]], list[str]]:
    """Split into lines, decoding each; lines that fail to decode are set aside.

    A file (or line) in the other usual encoding is still read, with a warning, rather than losing
    the people in it: valid UTF-8 where cp1252 is configured (names would otherwise turn into
    ``ZoÃ«``), and cp1252 where UTF-8 is configured (a ``Siobhán`` is not a reason to drop a row).
    """
    warnings: list[str] = []
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        if encoding != "utf-8-sig":
            warnings.append("byte-order mark found where none is configured (ignored)")
    elif encoding == "utf-8-sig":
        warnings.append("no byte-order mark where one is configured (read anyway)")
    if b"\x00" in data[:65536]:
        raise FileUnreadable(file, "binary", "looks binary (NUL bytes); expected a CSV text file")
    if codec != "utf-8" and not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            warnings.append(f"encoding_mismatch: file is UTF-8 but {encoding} is configured; read as UTF-8 "
                            "(fix 'encoding' in config/sources.yaml or the export)")
            codec = "utf-8"
    lines: list[str] = []
    rejects: list[dict[str, object]] = []
    try:
        text = data.decode(codec)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
    except UnicodeDecodeError:
        raw_lines = data.split(b"\n")
        if raw_lines and raw_lines[-1] == b"":
            raw_lines.pop()
        alternate = ALTERNATE_CODEC.get(codec, "cp1252")
        fallback = 0
        for number, raw in enumerate(raw_lines, start=1):
            try:
                lines.append(raw.decode(codec))
                continue
            except UnicodeDecodeError:
                pass
            try:
                lines.append(raw.decode(alternate))
                fallback += 1
                continue
            except UnicodeDecodeError:
                lines.append("")
            if number == 1:
                raise FileUnreadable(file, "encoding", f"header is not valid {encoding}") from None
            rejects.append(
                _reject(file, number, "encoding_error",
                        f"bytes not valid {encoding} (check the source's configured encoding)")
            )
        if fallback:
            warnings.append(f"encoding_mismatch: {fallback} line(s) not valid {encoding} were read as {alternate} "
                            "(fix 'encoding' in config/sources.yaml or the export)")
        if len(rejects) > max(10, len(raw_lines) // 2):
            raise FileUnreadable(
                file, "encoding",
                f"{len(rejects)} of {len(raw_lines)} lines are not valid {encoding}: "
                "is the file in another encoding? fix 'encoding' in config/sources.yaml or the export",
            ) from None
    crlf = sum(1 for line in lines[:50] if line.endswith("\r"))
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if crlf and crlf < min(len(lines), 50) - 1:
        warnings.append("mixed CRLF and LF line ends")
    return lines, rejects, warnings


def read_extract(
    path: Path,
    encoding: str,
    expected_columns: list[str],
    known_columns: list[str] | None = None,
    essential_columns: list[str] | None = None,
) -> RawFile:
    """Read one extract into string columns named as in the file's header.

    A field over ``MAX_FIELD_CHARS`` characters sets its row aside only when the column is essential
    (identifier, surname, strict dates); elsewhere the value is blanked, the row kept and flagged
    (``_too_long`` names the columns) and the file gets a warning.

    Args:
        path: the CSV file.
        encoding: the configured encoding (``utf-8-sig`` means a byte-order mark is expected).
        expected_columns: the source columns the configuration needs from this file.
        known_columns: further columns of the layout that are not used (no warning when present).
        essential_columns: columns without which a row cannot be used (default: all expected columns).

    Raises:
        FileUnreadable: the file is empty, binary, or lacks a required column.
    """
    file = path.name
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)  # longer fields are handled below, not by a crash
    data = path.read_bytes()
    if not data.strip():
        raise FileUnreadable(file, "empty", "file is empty (0 bytes or whitespace only); expected a header row")
    lines, rejects, warnings = _decode(file, data, encoding)
    if not lines or not lines[0].strip():
        raise FileUnreadable(file, "header", "first line is blank; expected the header row")
    header = next(csv.reader([lines[0]]))
    header = [h.strip() for h in header]
    missing = [c for c in expected_columns if c not in header]
    if missing:
        raise FileUnreadable(
            file, "missing_column",
            f"missing column(s) {missing}; header has {len(header)} columns; expected {expected_columns}",
            header=header,
        )
    extra = [c for c in header if c not in expected_columns and c not in (known_columns or [])]
    if extra:
        warnings.append(f"unexpected column(s) ignored: {extra}")
    if len(set(header)) != len(header):
        raise FileUnreadable(file, "header", "duplicate column names in header", header=header)
    width = len(header)
    rows_read = 0
    blank = 0
    keep_numbers: list[int] = []
    keep_lines: list[str] = []
    rejected_numbers = {int(r["row"]) for r in rejects}  # type: ignore[call-overload]
    for number, line in enumerate(lines[1:], start=2):
        if number in rejected_numbers:
            rows_read += 1
            continue
        if not line.strip():
            blank += 1
            continue
        rows_read += 1
        if line.count('"') % 2:
            rejects.append(_reject(file, number, "unparseable_line",
                                   f"unbalanced quotes ({len(line)} characters)"))
            continue
        keep_numbers.append(number)
        keep_lines.append(line)
    columns: list[list[str]] = [[] for _ in range(width)]
    numbers: list[int] = []
    too_long: list[str | None] = []
    essential = {header.index(c) for c in (expected_columns if essential_columns is None else essential_columns)
                 if c in header}
    blanked = 0
    for number, fields in zip(keep_numbers, csv.reader(keep_lines, strict=False), strict=True):
        if len(fields) != width:
            rejects.append(_reject(file, number, "unparseable_line",
                                   f"{len(fields)} fields where the header has {width}"))
            continue
        long_fields = [i for i, v in enumerate(fields) if len(v) > MAX_FIELD_CHARS]
        if long_fields and essential.intersection(long_fields):
            rejects.append(_reject(file, number, "field_too_long",
                                   f"an essential field over {MAX_FIELD_CHARS} characters "
                                   f"({', '.join(header[i] for i in long_fields)})"))
            continue
        if long_fields:
            blanked += 1
            for i in long_fields:
                fields[i] = ""
        too_long.append(";".join(header[i] for i in long_fields) if long_fields else None)
        numbers.append(number)
        for i, value in enumerate(fields):
            columns[i].append(value)
    if blanked:
        warnings.append(f"field_too_long: {blanked} row(s) had a non-essential field over {MAX_FIELD_CHARS} "
                        "characters; the value was blanked and the row kept (flag field_too_long)")
    everything = pl.DataFrame(
        {f"_c{i}": pl.Series(values, dtype=pl.String) for i, values in enumerate(columns)}
    )
    # Exact duplicates are judged on the whole line, not just the configured columns.
    line_hash = everything.hash_rows(seed=7) if width else pl.Series([], dtype=pl.UInt64)
    frame = pl.DataFrame(
        {ROW: pl.Series(ROW, numbers, dtype=pl.Int64)}
        | {name: everything.get_column(f"_c{header.index(name)}").alias(name) for name in expected_columns}
        | {"_line_hash": line_hash, "_too_long": pl.Series("_too_long", too_long, dtype=pl.String)}
    )
    return RawFile(file=file, frame=frame, rows_read=rows_read, blank_lines=blank,
                   rejects=rejects, warnings=warnings, header=header)
