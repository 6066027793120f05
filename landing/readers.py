"""Read one extract file into string columns, keeping every row accounted for.

The file is decoded (a byte-order mark wins over the configured encoding: UTF-8, UTF-16 and UTF-32
are read whatever the configuration says, with a warning), split into physical lines at LF, CRLF or
a lone CR, and parsed as CSV record by record: a quoted field may hold commas, quotes and line
breaks. Every record after the header is a data row (numbered by the line it starts on, header = 1),
a blank line, or a row set aside with its reason: not valid CSV (a stray quote sets aside its own
line only, never the rest of the file), the wrong number of fields, bytes that are not valid in the
file's encoding, or a NUL byte. Nothing is dropped silently, and no ``csv.Error`` escapes.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import polars as pl

ROW = "_row"
BOM = "\ufeff"
MAX_FIELD_CHARS = 10_000
CSV_FIELD_LIMIT = 1 << 30
# A quoted field may span lines; a record still open after this many lines is a stray quote.
MAX_RECORD_LINES = 50
TOO_MANY_BAD_LINES = 10

# Longest mark first: the UTF-32-LE mark begins with the UTF-16-LE one.
BYTE_ORDER_MARKS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
ALTERNATE_CODEC = {"utf-8": "cp1252", "cp1252": "utf-8", "latin-1": "utf-8"}
_LF_LINE = re.compile(rb"[^\n]*\n|[^\n]+")
_CR_LINE = re.compile(rb"[^\r]*\r|[^\r]+")


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


@dataclass
class DecodedText:
    """A file decoded into physical lines (line ends kept), with the lines that would not decode.

    ``cr_mark`` is the character that stands for a carriage return inside a line (a CR that is not a
    line end) while the csv module parses; :meth:`restore` puts the CR back into each field.
    """

    lines: list[str]
    bad_lines: set[int]  # 0-based indices of lines not valid in the configured (or alternate) encoding
    codec: str
    warnings: list[str]
    cr_mark: str = ""

    def restore(self, fields: list[str]) -> list[str]:
        """Fields with the carriage returns they held."""
        if not self.cr_mark:
            return fields
        return [value.replace(self.cr_mark, "\r") for value in fields]


def split_lines(text: str) -> list[str]:
    """Physical lines, each with its line end: LF or CRLF, or a lone CR in a file with no LF at all.

    In a file with LF line ends a lone CR is part of a field (a value typed with a carriage return),
    never a line end; a file with no LF at all uses CR alone as its line end.

    Args:
        text: the decoded file.
    """
    if "\n" in text:
        return re.findall(r"[^\n]*\n|[^\n]+", text)
    return re.findall(r"[^\r]*\r|[^\r]+", text)


def _mark_inner_carriage_returns(lines: list[str]) -> tuple[list[str], str]:
    """Replace each CR that is not a line end by a private character the csv module passes through."""
    joined = "".join(lines)
    if joined.count("\r") == joined.count("\r\n"):  # every CR ends its line (lines end after an LF): none inside
        return lines, ""
    if not any("\r" in _split_end(line)[0] for line in lines if "\r" in line):
        return lines, ""
    present = set(joined)
    mark = next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in present)
    marked = []
    for line in lines:
        body, end = _split_end(line)
        marked.append(body.replace("\r", mark) + end)
    return marked, mark


def _split_end(line: str) -> tuple[str, str]:
    for end in ("\r\n", "\n", "\r"):
        if line.endswith(end):
            return line[: -len(end)], end
    return line, ""


def _reject(file: str, row: int, reason: str, value: str, check: str = "parse") -> dict[str, object]:
    return {"file": file, "row": row, "column": None, "value": value, "reason": reason, "check": check}


def _utf16_without_mark(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when the bytes look like UTF-16 text with no byte-order mark, else None."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def _choose_codec(data: bytes, encoding: str) -> tuple[bytes, str, list[str]]:
    """Strip a byte-order mark and pick the codec: the mark's, else the configured one."""
    warnings: list[str] = []
    configured = "utf-8" if encoding == "utf-8-sig" else encoding
    for mark, codec in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            if codec == "utf-8" and encoding != "utf-8-sig":
                warnings.append("byte-order mark found where none is configured (ignored)")
            elif codec != "utf-8":
                warnings.append(f"encoding_mismatch: the file is {codec.upper()} (byte-order mark) but {encoding} "
                                "is configured; read as marked (fix 'encoding' in config/sources.yaml or the export)")
            return data[len(mark):], codec, warnings
    if encoding == "utf-8-sig":
        warnings.append("no byte-order mark where one is configured (read anyway)")
    wide = _utf16_without_mark(data)
    if wide is not None:
        warnings.append(f"encoding_mismatch: the file looks like {wide.upper()} without a byte-order mark but "
                        f"{encoding} is configured; read as {wide.upper()} (fix the export)")
        return data, wide, warnings
    if configured != "utf-8" and not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            warnings.append(f"encoding_mismatch: file is UTF-8 but {encoding} is configured; read as UTF-8 "
                            "(fix 'encoding' in config/sources.yaml or the export)")
            return data, "utf-8", warnings
    return data, configured, warnings


def _lines_by_line(data: bytes, codec: str) -> tuple[list[str], set[int], int]:
    """Decode line by line: the configured codec, else the usual alternate, else set the line aside."""
    alternate = ALTERNATE_CODEC.get(codec, "cp1252")
    lines: list[str] = []
    bad: set[int] = set()
    fallback = 0
    pattern = _LF_LINE if b"\n" in data else _CR_LINE
    for index, raw in enumerate(pattern.findall(data)):
        try:
            lines.append(raw.decode(codec))
            continue
        except UnicodeDecodeError:
            pass
        try:
            lines.append(raw.decode(alternate))
            fallback += 1
        except UnicodeDecodeError:
            lines.append(raw.decode(codec, errors="replace"))
            bad.add(index)
    return lines, bad, fallback


def decode_lines(file: str, data: bytes, encoding: str) -> DecodedText:
    """Decode a file into physical lines, each ending in its own LF, CRLF or CR.

    A file (or line) in the other usual encoding is still read, with a warning, rather than losing
    the people in it: valid UTF-8 where cp1252 is configured (names would otherwise turn into
    ``ZoÃ«``), and cp1252 where UTF-8 is configured (a ``Siobhán`` is not a reason to drop a row).

    Args:
        file: the file name (for messages).
        data: the file's bytes.
        encoding: the configured encoding.

    Raises:
        FileUnreadable: most lines are not valid in the configured encoding.
    """
    data, codec, warnings = _choose_codec(data, encoding)
    bad: set[int] = set()
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        if codec.startswith(("utf-16", "utf-32")):
            lines = split_lines(data.decode(codec, errors="replace"))
            bad = {i for i, line in enumerate(lines) if "\ufffd" in line}
        else:
            lines, bad, fallback = _lines_by_line(data, codec)
            if fallback:
                warnings.append(f"encoding_mismatch: {fallback} line(s) not valid {encoding} were read as "
                                f"{ALTERNATE_CODEC.get(codec, 'cp1252')} "
                                "(fix 'encoding' in config/sources.yaml or the export)")
    else:
        lines = split_lines(text)
    if len(bad) > max(TOO_MANY_BAD_LINES, len(lines) // 2):
        raise FileUnreadable(
            file, "encoding",
            f"{len(bad)} of {len(lines)} lines are not valid {encoding}: "
            "is the file in another encoding? fix 'encoding' in config/sources.yaml or the export",
        )
    ends = {_line_end(line) for line in lines[:1000]} - {""}
    if len(ends) > 1:
        warnings.append(f"mixed line ends ({', '.join(sorted(ends))})")
    lines, mark = _mark_inner_carriage_returns(lines)
    return DecodedText(lines=lines, bad_lines=bad, codec=codec, warnings=warnings, cr_mark=mark)


def _line_end(line: str) -> str:
    if line.endswith("\r\n"):
        return "CRLF"
    if line.endswith("\n"):
        return "LF"
    if line.endswith("\r"):
        return "CR"
    return ""


class Record(NamedTuple):
    """One CSV record: the line it starts on (0-based), how many lines it spans, its fields or why not."""

    first: int
    span: int
    fields: list[str] | None
    problem: str = ""


class _Feed:
    """Lines for ``csv.reader`` from ``start``, stopping once a record has run over ``MAX_RECORD_LINES``."""

    def __init__(self, lines: list[str], start: int) -> None:
        self.next = start
        self.record_start = start
        self._lines = self._generate(lines)

    def _generate(self, lines: list[str]) -> Iterator[str]:
        end = len(lines)
        while self.next < end and self.next - self.record_start < MAX_RECORD_LINES:
            self.next += 1
            yield lines[self.next - 1]

    def __iter__(self) -> Iterator[str]:
        return self._lines


def _swallowed_a_row(lines: list[str], record: Record, width: int) -> bool:
    """Whether a record spanning lines holds a later line that is a whole row by itself (a stray quote).

    The line that closes a legitimate quoted line break has an odd number of quotes (the closing one);
    a line that has an even number and parses alone to a full row is a row that a stray quote swallowed.
    """
    for index in range(record.first + 1, record.first + record.span):
        line = lines[index]
        if line.count('"') % 2:
            continue
        try:
            if len(next(csv.reader([line], strict=False), [])) == width:
                return True
        except csv.Error:
            continue
    return False


def _unbalanced(lines: list[str], first: int) -> str:
    line = lines[first].rstrip("\r\n")
    return f"unbalanced quotes ({len(line)} characters)"


def iter_records(lines: list[str], width: int, start: int = 0) -> Iterator[Record]:
    """Split physical lines into CSV records, resynchronising after a stray quote.

    A record that spans several lines but does not have ``width`` fields (or swallowed a line that
    is a whole row by itself) is a stray quote: its first line alone is set aside and reading goes on
    with the next line, so one bad quote never takes the rest of the file with it.

    Args:
        lines: physical lines with their line ends (from :func:`decode_lines`).
        width: the header's number of fields (0 while reading the header itself).
        start: the index of the first line to read.
    """
    position = start
    if not any(line.count('"') & 1 for line in lines[start:]):
        # No line has an odd number of quotes, so no record can span lines: one pass of the C reader.
        reader = csv.reader(itertools.islice(lines, start, None), strict=False)
        try:
            for fields in reader:
                yield Record(position, 1, fields)
                position += 1
            return
        except csv.Error:
            pass  # read the rest line by line below, setting the bad line aside
    yield from _records_resynchronising(lines, width, position)


def _records_resynchronising(lines: list[str], width: int, position: int) -> Iterator[Record]:
    while position < len(lines):
        feed = _Feed(lines, position)
        reader = csv.reader(feed, strict=False)
        consumed = position
        try:
            for fields in reader:
                record = Record(first=consumed, span=feed.next - consumed, fields=fields)
                consumed = feed.next
                feed.record_start = consumed
                if record.span > 1 and width and (len(fields) != width or _swallowed_a_row(lines, record, width)):
                    yield Record(record.first, 1, None, _unbalanced(lines, record.first))
                    consumed = record.first + 1
                    break
                yield record
        except csv.Error as exc:
            yield Record(consumed, 1, None, f"not valid CSV ({exc})")
            consumed += 1
        position = max(consumed, position + 1)


def _read_header(file: str, text: DecodedText, data: bytes, expected_columns: list[str]) -> tuple[list[str], int]:
    """The header's column names and the index of the first line after it."""
    first = next(iter_records(text.lines, 0), None)
    if first is None or first.fields is None or not "".join(first.fields).strip():
        raise FileUnreadable(file, "header", "first line is blank or not valid CSV; expected the header row")
    if 0 in text.bad_lines:
        raise FileUnreadable(file, "encoding", f"header is not valid {text.codec}")
    header = [h.strip() for h in text.restore(first.fields)]
    missing = [c for c in expected_columns if c not in header]
    if missing and b"\x00" in data and not text.codec.startswith(("utf-16", "utf-32")):
        raise FileUnreadable(file, "binary", "looks binary (NUL bytes); expected a CSV text file")
    if any("\x00" in h for h in header):
        raise FileUnreadable(file, "binary", "looks binary (NUL bytes in the header); expected a CSV text file")
    if missing:
        raise FileUnreadable(
            file, "missing_column",
            f"missing column(s) {missing}; header has {len(header)} columns; expected {expected_columns}",
            header=header,
        )
    if len(set(header)) != len(header):
        raise FileUnreadable(file, "header", "duplicate column names in header", header=header)
    return header, first.first + first.span


def _problem(text: DecodedText, record: Record, width: int) -> tuple[str, str]:
    """``(reason, description)`` when a record cannot be used as a row, else ``("", "")``."""
    if record.fields is None:
        return "unparseable_line", record.problem
    if text.bad_lines and any(i in text.bad_lines for i in range(record.first, record.first + record.span)):
        return "encoding_error", f"bytes not valid {text.codec} (check the source's configured encoding)"
    if len(record.fields) != width:
        raw = "".join(text.lines[record.first:record.first + record.span])
        if raw.count('"') % 2:
            return "unparseable_line", _unbalanced(text.lines, record.first)
        return "unparseable_line", f"{len(record.fields)} fields where the header has {width}"
    if any("\x00" in value for value in record.fields):
        return "nul_byte", "a NUL byte in the row (binary data inside a text file)"
    return "", ""


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
    text = decode_lines(file, data, encoding) if data.strip() else None
    if text is None or not "".join(text.lines).strip():
        raise FileUnreadable(file, "empty", "file is empty (0 bytes or whitespace only); expected a header row")
    header, body_start = _read_header(file, text, data, expected_columns)
    warnings = list(text.warnings)
    extra = [c for c in header if c not in expected_columns and c not in (known_columns or [])]
    if extra:
        warnings.append(f"unexpected column(s) ignored: {extra}")
    width = len(header)
    essential = {header.index(c) for c in (expected_columns if essential_columns is None else essential_columns)
                 if c in header}
    check_nul = "\x00" in "".join(text.lines)
    rows = None
    if not (text.bad_lines or check_nul or text.cr_mark):
        rows = _clean_rows(text.lines, width, body_start)
    if rows is None:
        rows = _careful_rows(file, text, header, essential, body_start, check_nul)
    if rows.blanked:
        warnings.append(f"field_too_long: {rows.blanked} row(s) had a non-essential field over {MAX_FIELD_CHARS} "
                        "characters; the value was blanked and the row kept (flag field_too_long)")
    return RawFile(file=file, frame=_frame(header, expected_columns, rows.columns, rows.numbers, rows.too_long),
                   rows_read=rows.rows_read, blank_lines=rows.blank, rejects=rows.rejects, warnings=warnings,
                   header=header)


@dataclass
class _Rows:
    """The data rows of a file as columns, with what was set aside, blank or blanked on the way."""

    columns: Sequence[list[str] | pl.Series]
    numbers: list[int]
    too_long: list[str | None]
    rows_read: int = 0
    blank: int = 0
    blanked: int = 0
    rejects: list[dict[str, object]] = field(default_factory=list)


def _is_blank(fields: list[str]) -> bool:
    return len(fields) <= 1 and not "".join(fields).strip()


def _clean_rows(lines: list[str], width: int, start: int) -> _Rows | None:
    """The rows of a plain file split by polars in one pass; None unless the file is plain.

    Plain means no quote character at all, no line over ``MAX_FIELD_CHARS`` characters, every line either
    ``width`` fields or blank (whitespace only), and more than one column (the caller has ruled out NUL
    bytes, undecodable lines and carriage returns inside lines). The csv module splits such a line at
    each comma and nothing else, so rows, numbers and blank counts are exactly :func:`_careful_rows'`
    (tests compare the two); anything else goes to the careful reader.
    """
    body = lines[start:]
    if width < 2 or (body and max(map(len, body)) > MAX_FIELD_CHARS) or '"' in "".join(body):
        return None
    split = pl.DataFrame({"line": body}, schema={"line": pl.String}).with_row_index("_i").with_columns(
        pl.col("line").str.strip_chars_end("\r\n").alias("line"))
    split = split.with_columns(pl.col("line").str.count_matches(",", literal=True).alias("_commas"))
    no_comma = split.filter(pl.col("_commas") == 0).get_column("line").to_list()
    if any(value.strip() for value in no_comma) or split.filter(
            (pl.col("_commas") != 0) & (pl.col("_commas") != width - 1)).height:
        return None
    kept = split.filter(pl.col("_commas") == width - 1)
    fields = kept.select(pl.col("line").str.split_exact(",", width - 1).struct.unnest())
    return _Rows(columns=list(fields.get_columns()),
                 numbers=(kept.get_column("_i").cast(pl.Int64) + start + 1).to_list(),
                 too_long=[None] * kept.height, rows_read=kept.height, blank=len(no_comma))


def _careful_rows(file: str, text: DecodedText, header: list[str], essential: set[int], body_start: int,
                  check_nul: bool) -> _Rows:
    """Every record judged on its own: set aside with its reason, blank, blanked (long field) or kept."""
    width = len(header)
    columns: list[list[str]] = [[] for _ in range(width)]
    rows = _Rows(columns=columns, numbers=[], too_long=[])
    for record in iter_records(text.lines, width, body_start):
        fields = record.fields
        if fields is not None and _is_blank(fields) and record.span == 1 and record.first not in text.bad_lines:
            rows.blank += 1
            continue
        rows.rows_read += 1
        number = record.first + 1
        if fields is None or len(fields) != width or text.bad_lines or check_nul:
            reason, description = _problem(text, record, width)
            if reason:
                rows.rejects.append(_reject(file, number, reason, description))
                continue
        fields = text.restore(fields or [])
        if len(text.lines[record.first]) > MAX_FIELD_CHARS or record.span > 1:
            long_fields = [i for i, v in enumerate(fields) if len(v) > MAX_FIELD_CHARS]
            if long_fields and essential.intersection(long_fields):
                rows.rejects.append(_reject(file, number, "field_too_long",
                                            f"an essential field over {MAX_FIELD_CHARS} characters "
                                            f"({', '.join(header[i] for i in long_fields)})"))
                continue
            if long_fields:
                rows.blanked += 1
                for i in long_fields:
                    fields[i] = ""
            rows.too_long.append(";".join(header[i] for i in long_fields) if long_fields else None)
        else:
            rows.too_long.append(None)
        rows.numbers.append(number)
        for column, value in zip(columns, fields, strict=True):
            column.append(value)
    return rows


def _frame(header: list[str], expected_columns: list[str], columns: Sequence[list[str] | pl.Series],
           numbers: list[int], too_long: list[str | None]) -> pl.DataFrame:
    everything = pl.DataFrame(
        {f"_c{i}": pl.Series(values, dtype=pl.String) for i, values in enumerate(columns)}
    )
    # Exact duplicates are judged on the whole row, not just the configured columns.
    line_hash = everything.hash_rows(seed=7) if columns else pl.Series([], dtype=pl.UInt64)
    return pl.DataFrame(
        {ROW: pl.Series(ROW, numbers, dtype=pl.Int64)}
        | {name: everything.get_column(f"_c{header.index(name)}").alias(name) for name in expected_columns}
        | {"_line_hash": line_hash, "_too_long": pl.Series("_too_long", too_long, dtype=pl.String)}
    )
