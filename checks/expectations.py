"""Custom Great Expectations expectations the built-in gallery lacks, vectorised for pandas.

Importing this module registers ``expect_column_values_to_be_valid_nhs_number`` with GX.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
import polars as pl
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import ColumnMapMetricProvider, column_condition_partial

from ground.nhs import valid_nhs_numbers as check_nhs


def valid_nhs_numbers(values: pd.Series, allow_test_range: bool = True) -> pd.Series:
    """The ground floor's NHS number check (:func:`ground.nhs.valid_nhs_numbers`) on a pandas column.

    Args:
        values: candidate numbers as strings (spaces already removed).
        allow_test_range: whether 999 000 0000–999 999 9999 (never issued) counts as valid.
    """
    column = pl.Series("v", values.astype("string").to_numpy(dtype=object, na_value=None), dtype=pl.String)
    return pd.Series(check_nhs(column, allow_test_range).to_numpy(), index=values.index)


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
