"""NHS number validation (Modulus 11), as a polars expression and for single values."""

from __future__ import annotations

import polars as pl

WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
TEST_RANGE = ("9990000000", "9999999999")


def nhs_number_valid(digits: pl.Expr, allow_test_range: bool = True) -> pl.Expr:
    """True where ``digits`` is a 10-digit NHS number passing Modulus 11.

    The ten repeated-digit numbers pass the arithmetic but are never issued, so they are invalid.

    Args:
        digits: a string expression (spaces already removed).
        allow_test_range: whether 999 000 0000–999 999 9999 (never issued) counts as valid.
    """
    shaped = digits.str.contains(r"^\d{10}$").fill_null(False)
    total = pl.sum_horizontal(
        [digits.str.slice(i, 1).cast(pl.Int32, strict=False) * weight for i, weight in enumerate(WEIGHTS)]
    )
    check = 11 - (total % 11)
    check = pl.when(check == 11).then(0).otherwise(check)
    last = digits.str.slice(9, 1).cast(pl.Int32, strict=False)
    repeated = digits.str.contains(r"^(0{10}|1{10}|2{10}|3{10}|4{10}|5{10}|6{10}|7{10}|8{10}|9{10})$")
    valid = shaped & (check != 10) & (check == last) & ~repeated
    if not allow_test_range:
        valid = valid & ~digits.str.starts_with("999")
    return pl.when(shaped).then(valid.fill_null(False)).otherwise(False)


def is_valid_nhs_number(value: str, allow_test_range: bool = True) -> bool:
    """Single-value form of :func:`nhs_number_valid`.

    Args:
        value: the candidate number, spaces allowed.
        allow_test_range: whether the 999 test range counts as valid.
    """
    digits = value.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    if not allow_test_range and digits.startswith("999"):
        return False
    check = 11 - sum(int(d) * w for d, w in zip(digits[:9], WEIGHTS, strict=True)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])
