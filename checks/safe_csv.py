"""CSV export that spreadsheet programs cannot turn into formulas (CSV / formula injection).

A cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab / carriage return, which some
programs skip before reading a formula) is prefixed with a single quote, so it is shown as text.
Use :func:`write_safe_csv` for every CSV a person may open: quarantine, exports, reports.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from safelink import outputs

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
