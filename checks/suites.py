"""The expectation suites, declared next to each other: one per source and file kind.

For every configured file of a source there is one suite named after the source and the file's
table (its kind):

- ``<source>.<kind>``: the rows the ingest accepted (canonical columns, row number as index);

and one per source over its files: ``<source>.files`` (one row per configured file: status, share set
aside, row count against the previous night, and the header: required columns missing, columns
other than the configured ones). The header checks used to be a ``<source>.<kind>.layout`` suite per
file (a GX run each, on a frame with no rows); they are folded into the files batch so a source costs
one GX run per file plus one. Each expectation carries in ``meta`` its short ``check`` name, its
``level`` (quarantine / flag / batch), the set-aside ``reason`` for quarantine-level checks, and the
source ``column`` it is about (for messages and masking).

Expectations are declared (:class:`Declared`: GX class name and arguments) and built as Great Expectations
objects only when a suite runs, so that a night whose suites are all reused (:mod:`checks.memo`) never imports
Great Expectations (several seconds of a process).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from checks.config import ChecksConfig
from ground.sources import FileSpec, SourceSpec
from landing.postcode import PSEUDO_POSTCODES, UK_POSTCODE

Level = Literal["quarantine", "flag", "batch"]
#: expectations of this project's own (``checks.expectations``); every other name is one of GX's
OWN_EXPECTATIONS = ("ExpectColumnValuesToBeValidNhsNumber",)


class Declared:
    """One expectation as declared: its GX class name and arguments, the GX object built on first use.

    Args:
        kind: the GX expectation class name (``ExpectColumnValuesToBeBetween``, ...).
        **kwargs: its arguments.
    """

    def __init__(self, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        self.kwargs = kwargs
        self.meta: dict[str, Any] = {}
        self._built: Any = None

    @property
    def expectation_type(self) -> str:
        """GX's name for it (``expect_column_values_to_be_between``)."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.kind).lower()

    @property
    def column(self) -> str | None:
        """The column it reads (None for a pair or table expectation)."""
        value = self.kwargs.get("column")
        return None if value is None else str(value)

    @property
    def mostly(self) -> float:
        """The share of rows that must pass (GX's default 1)."""
        return float(self.kwargs.get("mostly", 1.0))

    def build(self) -> Any:
        """The Great Expectations object (imports GX on the first call in a process)."""
        if self._built is None:
            if self.kind in OWN_EXPECTATIONS:
                import checks.expectations as own

                cls = getattr(own, self.kind)
            else:
                import great_expectations.expectations as gx_expectations

                cls = getattr(gx_expectations, self.kind)
            self._built = cls(**self.kwargs)
            self._built.meta = dict(self.meta)
        return self._built


class _Declare:
    """``gxe.ExpectColumnValuesToBeBetween(column=...)`` declares (:class:`Declared`) without importing GX."""

    def __getattr__(self, kind: str) -> Callable[..., Declared]:
        return lambda **kwargs: Declared(kind, **kwargs)


gxe = _Declare()


def ExpectColumnValuesToBeValidNhsNumber(**kwargs: Any) -> Declared:
    """Declare the project's NHS number expectation (``checks.expectations``).

    Args:
        **kwargs: its arguments.
    """
    return Declared("ExpectColumnValuesToBeValidNhsNumber", **kwargs)

NHS_STATUS_CODES = ["01", "02", "03", "04", "05", "06", "07", "08"]
PSEUDO_POSTCODE = "^(?:" + "|".join(PSEUDO_POSTCODES) + ")$"


@dataclass(frozen=True)
class Check:
    """One expectation and how the gate treats its failures."""

    name: str
    level: Level
    expectation: Declared
    column: str | None = None  # the source column, for messages and masking
    reason: str | None = None  # set-aside reason (quarantine level)
    allowed: str = ""  # what is allowed, in words


@dataclass
class SuiteSpec:
    """A declared suite: its name, which batch it validates, and its checks."""

    name: str
    batch: Literal["rows", "files"]
    file: str | None
    checks: list[Check] = field(default_factory=list)

    def add(self, check: Check) -> None:
        """Append a check, stamping its gate metadata onto the expectation.

        Args:
            check: the check.
        """
        check.expectation.meta = {"check": check.name, "level": check.level, "reason": check.reason,
                                  "column": check.column, "allowed": check.allowed}
        self.checks.append(check)


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February).

    Args:
        day: the reference date.
        years: how many years back (negative: forward).
    """
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _ts(day: dt.date) -> int:
    """A date as the integer ``YYYYMMDD``: the rows suites compare dates as integers, which GX
    evaluates vectorised (its between-check maps datetimes row by row in Python)."""
    return day.year * 10000 + day.month * 100 + day.day


def _pct(mostly: float) -> str:
    return f"at least {mostly:.0%} of rows"


def rows_suite(
    source: str, spec: FileSpec, checks: ChecksConfig, extract_date: dt.date, allow_test_range: bool
) -> SuiteSpec:
    """Declare the suite over one file's accepted rows.

    Args:
        source: the source key.
        spec: the file's configuration.
        checks: the gate thresholds.
        extract_date: the night.
        allow_test_range: whether 999 test-range NHS numbers are valid (``sources.yaml``).
    """
    suite = SuiteSpec(name=f"{source}.{spec.table}", batch="rows", file=spec.file_name(extract_date.strftime("%Y%m%d")))
    fields = spec.fields
    flags = checks.flags
    id_field = "owner_record_id" if spec.table == "mentions" else "record_id"
    id_column = fields[id_field].column
    suite.add(Check("identifier_present", "quarantine", gxe.ExpectColumnValuesToNotBeNull(column=id_field),
                    id_column, "blank_identifier", "every row has an identifier"))
    pattern = checks.identifiers.get(source)
    if pattern and spec.table == "people":  # other files are checked against the people file (owner_known)
        suite.add(Check("identifier_shape", "flag",
                        gxe.ExpectColumnValuesToMatchRegex(column=id_field, regex=pattern,
                                                           mostly=flags.identifier_shape.mostly),
                        id_column, None, f"{_pct(flags.identifier_shape.mostly)} match {pattern}"))
    if spec.table == "people":
        suite.add(Check("identifier_unique", "quarantine", gxe.ExpectColumnValuesToBeUnique(column="record_id"),
                        id_column, "duplicate_identifier", "one person record per identifier"))
        suite.add(Check("surname_present", "quarantine", gxe.ExpectColumnValuesToNotBeNull(column="surname"),
                        fields["surname"].column, "blank_surname", "every person has a surname"))
    if "dob" in fields:
        oldest = years_before(extract_date, checks.quarantine.max_age_years)
        level: Level = "quarantine" if spec.table == "people" else "flag"
        suite.add(Check(
            "dob_possible", level, gxe.ExpectColumnValuesToBeBetween(column="dob", min_value=_ts(oldest)),
            fields["dob"].column, "impossible_date" if level == "quarantine" else None,
            f"on or after {oldest.isoformat()} (at most {checks.quarantine.max_age_years} years old)"))
        # A birth date after tonight is kept and flagged by the ingest (a mistyped digit): flag level here too.
        suite.add(Check(
            "dob_not_future", "flag",
            gxe.ExpectColumnValuesToBeBetween(column="dob", max_value=_ts(extract_date), mostly=flags.age.mostly),
            fields["dob"].column, None, f"{_pct(flags.age.mostly)} born on or before the extract date"))
        band = checks.ages.get(source)
        if spec.table == "people" and band is not None and (band.min is not None or band.max is not None):
            tol = flags.age.tolerance_years
            youngest = years_before(extract_date, max((band.min or 0) - tol, 0))
            earliest = (years_before(extract_date, band.max + 1 + tol) + dt.timedelta(days=1)
                        if band.max is not None else None)
            suite.add(Check(
                "age_plausible", "flag",
                gxe.ExpectColumnValuesToBeBetween(column="dob", min_value=_ts(earliest) if earliest else None,
                                                  max_value=_ts(youngest), mostly=flags.age.mostly),
                fields["dob"].column, None,
                f"{_pct(flags.age.mostly)} aged {band.min if band.min is not None else 0}-"
                f"{band.max if band.max is not None else '…'} (±{tol} year)"))
    if "nhs_number" in fields and spec.table == "people":
        suite.add(Check(
            "nhs_number_valid", "flag",
            ExpectColumnValuesToBeValidNhsNumber(column="nhs_number_raw", allow_test_range=allow_test_range,
                                                 mostly=flags.nhs_number.mostly),
            fields["nhs_number"].column, None,
            f"at least {flags.nhs_number.mostly:.0%} of the NHS numbers given are 10 digits passing Modulus 11, "
            f"not one repeated digit{'' if allow_test_range else ', not in the 999 test range'}"))
    if "nhs_status" in fields:
        suite.add(Check(
            "nhs_status_coded", "flag",
            gxe.ExpectColumnValuesToBeInSet(column="nhs_status", value_set=NHS_STATUS_CODES,
                                            mostly=flags.nhs_status.mostly),
            fields["nhs_status"].column, None, f"{_pct(flags.nhs_status.mostly)} in 01-08"))
    if "postcode" in fields:
        suite.add(Check(
            "postcode_format", "flag",
            gxe.ExpectColumnValuesToMatchRegexList(column="postcode_normalised",
                                                   regex_list=[UK_POSTCODE, PSEUDO_POSTCODE], match_on="any",
                                                   mostly=flags.postcode.mostly),
            fields["postcode"].column, None,
            f"{_pct(flags.postcode.mostly)} UK format or a pseudo-postcode ({', '.join(PSEUDO_POSTCODES)})"))
    non_strict_dates = [n for n, f in fields.items() if f.parse == "date" and not f.is_strict]
    if non_strict_dates:
        suite.add(Check(
            "dates_parseable", "flag",
            gxe.ExpectColumnValuesToBeInSet(column="dates_parsed", value_set=[True], mostly=flags.start_date.mostly),
            ", ".join(fields[n].column for n in non_strict_dates), None,
            f"{_pct(flags.start_date.mostly)} have dates in the configured format"))
    if "start_date" in fields:
        suite.add(Check(
            "start_not_future", "flag",
            gxe.ExpectColumnValuesToBeBetween(column="start_date", max_value=_ts(extract_date),
                                              mostly=flags.start_date.mostly),
            fields["start_date"].column, None, f"{_pct(flags.start_date.mostly)} start on or before the extract date"))
    if spec.table == "appointments":
        suite.add(Check("appointment_date_present", "quarantine",
                        gxe.ExpectColumnValuesToNotBeNull(column="appt_date"),
                        fields["appt_date"].column, "blank_appt_date", "every appointment has a date"))
        ahead = extract_date + dt.timedelta(days=flags.appointment_date.days_ahead)
        suite.add(Check(
            "appointment_date_plausible", "flag",
            gxe.ExpectColumnValuesToBeBetween(column="appt_date", max_value=_ts(ahead),
                                              mostly=flags.appointment_date.mostly),
            fields["appt_date"].column, None,
            f"{_pct(flags.appointment_date.mostly)} on or before {ahead.isoformat()}"))
        codes = [str(k) for k in (fields["outcome"].map or {})]
        suite.add(Check(
            "outcome_coded", "flag",
            gxe.ExpectColumnValuesToBeInSet(column="outcome_raw", value_set=codes, mostly=flags.outcome.mostly),
            fields["outcome"].column, None, f"{_pct(flags.outcome.mostly)} in {codes}"))
    if spec.table in ("appointments", "mentions"):
        suite.add(Check(
            "owner_known", "flag",
            gxe.ExpectColumnValuesToBeInSet(column="owner_known", value_set=[True], mostly=flags.known_owner.mostly),
            id_column, None, f"{_pct(flags.known_owner.mostly)} refer to an accepted person record"))
    return suite


def files_suite(source: str, checks: ChecksConfig, missing_allowed: bool) -> SuiteSpec:
    """Declare the batch suite over one source's file counts.

    Args:
        source: the source key.
        checks: the gate thresholds.
        missing_allowed: whether an absent file is tolerated (``fail_on_missing_file: false``).
    """
    batch = checks.batch
    band = batch.row_count
    suite = SuiteSpec(name=f"{source}.files", batch="files", file=None)
    statuses = ["ok", "missing"] if missing_allowed else ["ok"]
    suite.add(Check("file_readable", "batch", gxe.ExpectColumnValuesToBeInSet(column="status", value_set=statuses),
                    None, None, f"status {' or '.join(statuses)}"))
    suite.add(Check("quarantined_share", "batch",
                    gxe.ExpectColumnValuesToBeBetween(column="quarantined_share", min_value=0,
                                                      max_value=batch.max_quarantined_share),
                    None, None, f"at most {batch.max_quarantined_share:.0%} of rows set aside"))
    suite.add(Check("min_rows", "batch",
                    gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="rows_read", column_B="min_rows",
                                                                or_equal=True,
                                                                ignore_row_if="either_value_is_missing"),
                    None, None, "at least the configured minimum rows"))
    suite.add(Check("row_count_band", "batch",
                    gxe.ExpectColumnValuesToBeBetween(column="row_ratio", min_value=1 - band.max_drop,
                                                      max_value=1 + band.max_rise),
                    None, None, f"{1 - band.max_drop:.0%}-{1 + band.max_rise:.0%} of the previous night's rows"))
    # The header of each file (null where no header was read): the required columns are all there (batch;
    # the gate names each missing column), and the header holds exactly the configured columns, in any
    # order (flag: unknown columns are ignored by the ingest, a missing optional column is left blank).
    suite.add(Check("columns_present", "batch",
                    gxe.ExpectColumnValuesToBeBetween(column="missing_columns", min_value=0, max_value=0),
                    None, None, "every required column is in the header"))
    suite.add(Check("columns_known", "flag",
                    gxe.ExpectColumnValuesToBeBetween(column="layout_differences", min_value=0, max_value=0),
                    None, None, "exactly the configured columns, in any order"))
    return suite


def declare_suites(
    source: str, spec: SourceSpec, checks: ChecksConfig, extract_date: dt.date, allow_test_range: bool
) -> dict[str, Any]:
    """Every suite of one source: the rows suite keyed by file name, plus ``"files"``.

    Args:
        source: the source key.
        spec: the source's configuration.
        checks: the gate thresholds.
        extract_date: the night.
        allow_test_range: whether 999 test-range NHS numbers are valid.
    """
    stamp = extract_date.strftime("%Y%m%d")
    suites: dict[str, Any] = {}
    for file_spec in spec.files:
        suites[file_spec.file_name(stamp)] = rows_suite(source, file_spec, checks, extract_date, allow_test_range)
    suites["files"] = files_suite(source, checks, missing_allowed=not checks.batch.fail_on_missing_file)
    return suites
