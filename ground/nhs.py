"""The one NHS number check (Modulus 11): for a whole column (numpy / polars) and for single values.

Generated data uses the test range 999 000 0000–999 999 9999, which is never issued: it passes the check
only where ``allow_test_range`` is true.
"""

from __future__ import annotations

import numpy as np
import polars as pl

WEIGHTS = np.arange(10, 1, -1, dtype=np.int64)
TEST_RANGE = ("9990000000", "9999999999")

# polars resolves its lazy numpy import on first use; two of its worker threads running the column check
# below at once raced there ("'module' object does not support item assignment"), so resolve it now, once.
pl.Series([0]).gather(np.zeros(1, dtype=np.int64))


def check_digits(first_nine: np.ndarray) -> np.ndarray:
    """The Modulus 11 check digit of each row of nine digits (10: no valid number starts with them).

    Args:
        first_nine: an ``(n, 9)`` integer array of digits.
    """
    check = 11 - (first_nine @ WEIGHTS) % 11
    check[check == 11] = 0
    return check


def valid_nhs_numbers(values: pl.Series, allow_test_range: bool = True) -> pl.Series:
    """Which values are NHS numbers: 10 digits, the Modulus 11 check digit right, not one digit ten times.

    The ten repeated-digit numbers pass the arithmetic but are never issued, so they are invalid.

    Args:
        values: candidate numbers as strings (spaces already removed); nulls are not valid.
        allow_test_range: whether 999 000 0000–999 999 9999 (never issued) counts as valid.
    """
    text = values.cast(pl.String)
    shaped_mask = text.str.contains(r"^[0-9]{10}$").fill_null(False)
    out = np.zeros(len(text), dtype=bool)
    index = np.flatnonzero(shaped_mask.to_numpy())
    if len(index):
        joined = "".join(text.filter(shaped_mask).to_list())
        digits = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(-1, 10).astype(np.int64) - 48
        ok = (check_digits(digits[:, :9]) == digits[:, 9]) & ~(digits == digits[:, :1]).all(axis=1)
        if not allow_test_range:
            ok &= ~(digits[:, :3] == 9).all(axis=1)
        out[index] = ok
    return pl.Series(values.name, out, dtype=pl.Boolean)


def nhs_number_valid(digits: pl.Expr, allow_test_range: bool = True) -> pl.Expr:
    """:func:`valid_nhs_numbers` as a polars expression.

    Args:
        digits: a string expression (spaces already removed).
        allow_test_range: whether the 999 test range counts as valid.
    """
    return digits.map_batches(lambda s: valid_nhs_numbers(s, allow_test_range), return_dtype=pl.Boolean)


def is_valid_nhs_number(value: str, allow_test_range: bool = True) -> bool:
    """Single-value form of :func:`valid_nhs_numbers` (spaces allowed).

    Args:
        value: the candidate number.
        allow_test_range: whether the 999 test range counts as valid.
    """
    return bool(valid_nhs_numbers(pl.Series([value.replace(" ", "")]), allow_test_range)[0])
