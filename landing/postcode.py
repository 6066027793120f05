"""UK postcode normalisation as polars expressions."""

from __future__ import annotations

import polars as pl

UK_POSTCODE = r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$"
PSEUDO_POSTCODES = {"ZZ99 3VZ": "no fixed abode", "ZZ99 3WZ": "not known", "ZZ99 3CZ": "England, not stated"}


def normalise_postcode(raw: pl.Expr) -> pl.Expr:
    """Upper-case, drop everything but letters and digits, put one space before the inward code.

    Args:
        raw: the postcode as typed (``ch14bj``, ``CH1  4BJ`` …).
    """
    compact = raw.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    return pl.when(compact.str.len_chars() >= 5).then(
        compact.str.slice(0, compact.str.len_chars() - 3) + pl.lit(" ") + compact.str.slice(-3, 3)
    ).otherwise(compact)


def postcode_valid(normalised: pl.Expr) -> pl.Expr:
    """True for a UK-format postcode (pseudo-postcodes such as ``ZZ99 3VZ`` included).

    Args:
        normalised: output of :func:`normalise_postcode`.
    """
    return normalised.str.contains(UK_POSTCODE).fill_null(False)
