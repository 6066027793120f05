"""CSV-injection-safe export and the matching import-side unescape."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from safelink import outputs

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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
    if text.startswith(DANGEROUS_PREFIXES):
        return "'" + text
    return text


def csv_uncell(text: str) -> str:
    """Undo :func:`csv_cell` for a text cell read back from an exported file.

    Args:
        text: the cell as read.
    """
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(DANGEROUS_PREFIXES):
        return text[1:]
    return text


def write_safe_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> int:
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
