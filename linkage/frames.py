"""The one place where polars frames cross into pandas for recordlinkage."""

from __future__ import annotations

import pandas as pd
import polars as pl

#: Columns recordlinkage's compare features read.
COMPARE_COLUMNS = [
    "fn", "fn_alt", "fn_ph", "sn", "sn_first", "sn_last", "sn_ph", "dob_s", "pc", "pc_sector", "pc_out",
    "nhs", "sex", "addr", "addr_head", "addr_num", "street", "street4",
]


def to_recordlinkage(records: pl.DataFrame, pairs: pl.DataFrame) -> tuple[pd.DataFrame, pd.MultiIndex]:
    """Convert standardised records and candidate pairs into recordlinkage's inputs.

    Args:
        records: standardised records with a ``uid`` column (0..n-1).
        pairs: candidate pairs with ``uid_l`` and ``uid_r``.

    Returns:
        The records as a pandas frame indexed by ``uid`` (object columns, None for missing) and the
        pairs as a pandas MultiIndex.
    """
    cols = [c for c in COMPARE_COLUMNS if c in records.columns]
    # a column at a time: a whole frame converted at once holds every column twice over on the way
    pdf = pd.DataFrame({c: _objects(records[c]) for c in cols})
    pdf.index = pd.Index(records["uid"].to_numpy(), name="uid")
    return pdf, pairs_index(pairs)


def _objects(column: pl.Series) -> pd.Series:
    """One column as pandas objects, None for missing (equal values share one object)."""
    values = column.to_pandas(use_pyarrow_extension_array=False)
    return values.astype(object).where(values.notna(), None)


def pairs_index(pairs: pl.DataFrame) -> pd.MultiIndex:
    """Candidate pairs (``uid_l``, ``uid_r``) as recordlinkage's pandas MultiIndex.

    Args:
        pairs: candidate pairs with ``uid_l`` and ``uid_r``.
    """
    return pd.MultiIndex.from_arrays([pairs["uid_l"].to_numpy(), pairs["uid_r"].to_numpy()], names=["uid_l", "uid_r"])


def levels_to_polars(levels: pd.DataFrame) -> pl.DataFrame:
    """Bring recordlinkage's comparison vectors back to polars (``uid_l``, ``uid_r``, levels).

    Args:
        levels: frame indexed by the (uid_l, uid_r) MultiIndex.
    """
    out = levels.reset_index()
    return pl.from_pandas(out)
