"""Custom Great Expectations expectations the built-in gallery lacks, vectorised for pandas.

Importing this module registers ``expect_column_values_to_be_valid_nhs_number`` with GX.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import ColumnMapMetricProvider, column_condition_partial

WEIGHTS = np.arange(10, 1, -1, dtype=np.int64)


def valid_nhs_numbers(values: pd.Series, allow_test_range: bool = True) -> pd.Series:
    """Vectorised NHS number check: 10 digits, Modulus 11, not one repeated digit.

    Args:
        values: candidate numbers as strings (spaces already removed).
        allow_test_range: whether 999 000 0000–999 999 9999 (never issued) counts as valid.
    """
    # Arrow-backed strings: the shape test runs vectorised in Arrow, not one Python regex call per value
    text = values.astype("string[pyarrow]")
    shaped = text.str.fullmatch(r"[0-9]{10}").fillna(False).to_numpy(dtype=bool)
    out = np.zeros(len(text), dtype=bool)
    index = np.flatnonzero(shaped)
    if len(index):
        digits = (np.frombuffer("".join(text.to_numpy()[index]).encode("ascii"), dtype=np.uint8)
                  .reshape(-1, 10).astype(np.int64) - 48)
        check = 11 - (digits[:, :9] @ WEIGHTS) % 11
        check[check == 11] = 0
        ok = (check != 10) & (check == digits[:, 9]) & ~(digits == digits[:, :1]).all(axis=1)
        if not allow_test_range:
            ok &= ~((digits[:, 0] == 9) & (digits[:, 1] == 9) & (digits[:, 2] == 9))
        out[index] = ok
    return pd.Series(out, index=values.index)


class ColumnValuesValidNhsNumber(ColumnMapMetricProvider):
    """Metric: which values are valid NHS numbers."""

    condition_metric_name = "column_values.valid_nhs_number"
    condition_value_keys = ("allow_test_range",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, allow_test_range: bool = True, **kwargs: Any) -> pd.Series:
        return valid_nhs_numbers(column, allow_test_range=allow_test_range)


class ExpectColumnValuesToBeValidNhsNumber(ColumnMapExpectation):
    """Expect values to be NHS numbers: 10 digits passing Modulus 11, not one digit repeated ten times.

    The 999 test range passes only when ``allow_test_range`` is true. Blank values are not counted.
    """

    allow_test_range: bool = True

    map_metric = "column_values.valid_nhs_number"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "allow_test_range")
