"""CSV export that spreadsheet programs cannot turn into formulas (CSV / formula injection).

A cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab / carriage return, which some
programs skip before reading a formula) is prefixed with a single quote, so it is shown as text.
The one writer of every CSV a person may open: :func:`write_safe_csv` for a frame (quarantine, the
contract's files), :func:`write_safe_rows` for row mappings (the clerical review file, whose numbers are
escaped too and read back with :func:`csv_uncell`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from ground import outputs

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: object) -> object:
    """Neutralise one cell: strings starting with a formula character get a leading ``'``.

    Args:
        value: the cell; non-strings are returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def escape_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Apply :func:`escape_cell` to every string column, vectorised.

    Args:
        frame: any frame; non-string columns are left as they are.
    """
    pattern = "^[=+\\-@\t\r]"
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(pattern)).then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )


def write_safe_csv(frame: pl.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV with every formula-like string cell escaped.

    Args:
        frame: the rows to write (list columns are joined with ``;``).
        path: where to write; the folder is created.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    listed = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    if listed:
        frame = frame.with_columns(pl.col(name).cast(pl.List(pl.String)).list.join(";") for name in listed)
    outputs.write_csv(escape_frame(frame), path)
    return path


def csv_cell(value: Any) -> str:
    """Render one value as a CSV cell a spreadsheet will not execute.

    Cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading single
    quote (OWASP's CSV-injection advice). Negative numbers are escaped too (``'-3.2``): a strict
    rule is simpler to audit than an exception, and :func:`csv_uncell` undoes it on import.

    Args:
        value: any value; ``None`` becomes an empty cell.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(round(value, 4)) if isinstance(value, float) else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_uncell(text: str) -> str:
    """Undo :func:`csv_cell` for a text cell read back from an exported file.

    Args:
        text: the cell as read.
    """
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def write_safe_rows(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows to ``path`` with every cell escaped by :func:`csv_cell`.

    Args:
        path: destination file (parent folders are created).
        columns: the header, in order.
        rows: mappings from column to value.

    Returns:
        the number of data rows written.
    """
    n = 0
    with outputs.atomic_path(path) as temporary, temporary.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        writer.writerow([csv_cell(c) for c in columns])
        for row in rows:
            writer.writerow([csv_cell(row.get(c)) for c in columns])
            n += 1
    return n
