"""Turn one file's string columns into canonical typed columns, as polars expressions.

Each configured field becomes one expression; a row that cannot be used at all (blank
identifier, blank surname, impossible date, unknown outcome) gets a set-aside reason naming the
column, and everything else is kept, with non-fatal problems listed in ``flags``.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ground.identifiers import record_id_problem_expressions
from ground.nhs import nhs_number_valid
from ground.sources import FieldSpec, FileSpec
from landing.postcode import normalise_postcode, postcode_valid

REASON = "_reason"
REASON_COLUMN = "_reason_column"
REASON_VALUE = "_reason_value"
IDENTIFIER_FIELDS = {"record_id", "owner_record_id"}


def _text(column: str) -> pl.Expr:
    value = pl.col(column).str.strip_chars()
    return pl.when(value == "").then(None).otherwise(value)


def _parse_date(raw: pl.Expr, spec: FieldSpec, extract_date: dt.date) -> pl.Expr:
    candidates = []
    for fmt in spec.formats:
        dtype = pl.Datetime if "%H" in fmt else pl.Date
        if "%y" in fmt:
            full = fmt.replace("%y", "%Y")
            recent = raw.str.replace(r"(\D)(\d{2})$", "${1}20${2}").str.strptime(dtype, full, strict=False)
            if spec.two_digit_year == "past":
                older = raw.str.replace(r"(\D)(\d{2})$", "${1}19${2}").str.strptime(dtype, full, strict=False)
                recent_date = recent.cast(pl.Date)
                parsed = pl.when(recent_date > pl.lit(extract_date)).then(older).otherwise(recent)
            else:
                parsed = recent
        else:
            parsed = raw.str.strptime(dtype, fmt, strict=False)
        candidates.append(parsed.cast(pl.Date))
    return pl.coalesce(candidates) if len(candidates) > 1 else candidates[0]


def _name_part(raw: pl.Expr, part: str) -> pl.Expr:
    layout, which = part.split(".")
    if layout == "surname_comma_forename":
        pieces = raw.str.splitn(",", 2)
        index = 0 if which == "surname" else 1
    else:
        pieces = raw.str.splitn(" ", 2)
        index = 0 if which == "forename" else 1
    value = pieces.struct.field(f"field_{index}").str.strip_chars()
    return pl.when(value == "").then(None).otherwise(value)


def field_expressions(
    spec_by_field: dict[str, FieldSpec], extract_date: dt.date, allow_test_range: bool
) -> tuple[list[pl.Expr], list[tuple[pl.Expr, str, str]], list[tuple[pl.Expr, str]]]:
    """Build the expressions for one file.

    Args:
        spec_by_field: canonical field name → how to read it.
        extract_date: the night's extract date (two-digit-year pivot, dates in the future).
        allow_test_range: whether NHS numbers in the 999 test range count as valid.

    Returns:
        (value expressions, set-aside conditions as (condition, reason, column),
        flag conditions as (condition, flag)).
    """
    values: list[pl.Expr] = []
    set_aside: list[tuple[pl.Expr, str, str]] = []
    flags: list[tuple[pl.Expr, str]] = []
    for name, spec in spec_by_field.items():
        raw = _text(spec.column)
        if spec.parse == "date":
            parsed = _parse_date(raw, spec, extract_date)
            values.append(parsed.alias(name))
            if spec.is_strict:
                set_aside.append((raw.is_not_null() & parsed.is_null(), "impossible_date", spec.column))
            else:
                flags.append((raw.is_not_null() & parsed.is_null(), f"{name}_invalid"))
            if name == "dob":
                # A mistyped digit can push a real person's birth date past tonight: keep and flag them.
                flags.append((parsed > pl.lit(extract_date), "dob_in_future"))
        elif spec.parse == "nhs_number":
            digits = raw.str.replace_all(r"\s", "")
            valid = nhs_number_valid(digits, allow_test_range=allow_test_range)
            values.append(digits.alias(f"{name}_raw"))
            values.append(pl.when(valid).then(digits).otherwise(None).alias(name))
            flags.append((digits.is_not_null() & ~valid, f"{name}_invalid"))
        elif spec.parse == "postcode":
            normalised = normalise_postcode(raw)
            valid = postcode_valid(normalised)
            values.append(raw.alias(f"{name}_raw"))
            values.append(pl.when(valid).then(normalised).otherwise(None).alias(name))
            flags.append((raw.is_not_null() & ~valid, f"{name}_invalid"))
        elif spec.parse in ("code", "bool"):
            mapping = spec.map or {}
            dtype = pl.Boolean if spec.parse == "bool" else pl.String
            known = raw.is_in(list(mapping))
            mapped = raw.replace_strict(mapping, default=None, return_dtype=dtype)
            values.append(mapped.alias(name))
            values.append(raw.alias(f"{name}_raw"))
            if spec.required:
                set_aside.append((raw.is_not_null() & ~known, "unknown_code", spec.column))
            else:
                flags.append((raw.is_not_null() & ~known, f"{name}_unknown_code"))
        elif spec.parse == "name_part":
            values.append(_name_part(raw, spec.part or "").alias(name))
        elif spec.parse == "address_part":
            first = raw.str.split(",").list.first().str.strip_chars()
            values.append(pl.when(first == "").then(None).otherwise(first).alias(name))
        else:
            values.append(raw.alias(name))
        if spec.required:
            reason = "blank_identifier" if name in IDENTIFIER_FIELDS else f"blank_{name}"
            set_aside.append((raw.is_null(), reason, spec.column))
        if name in IDENTIFIER_FIELDS:
            set_aside.extend((condition, why, spec.column) for condition, why in record_id_problem_expressions(raw))
    return values, set_aside, flags


def date_dependent_columns(spec: FileSpec) -> list[tuple[str, int]]:
    """The canonical date columns whose parsing compares a value with the extract date, each with the years
    to add to a landed value to get the value compared: a date of birth after tonight is flagged
    (``dob_in_future``), and a ``two_digit_year: past`` year is read as 19yy when 20yy would be after tonight.
    Incremental nights (:mod:`landing.memo`) rely on this list: keep it in step with :func:`field_expressions`.

    Args:
        spec: the file's configuration.
    """
    out: list[tuple[str, int]] = []
    for name, field in spec.fields.items():
        if field.parse != "date":
            continue
        if name == "dob":
            out.append((name, 0))
        if field.two_digit_year == "past" and any("%y" in fmt for fmt in field.formats):
            out.extend([(name, 0), (name, 100)])
    return sorted(set(out))


def parse_file(frame: pl.DataFrame, spec: FileSpec, extract_date: dt.date, allow_test_range: bool) -> pl.DataFrame:
    """Parse a file's string frame into canonical columns plus ``_reason``/``_reason_column``/``flags``.

    Args:
        frame: string columns as read, with ``_row``.
        spec: the file's configuration.
        extract_date: the night's extract date.
        allow_test_range: whether 999 test-range NHS numbers are valid.
    """
    values, set_aside, flags = field_expressions(spec.fields, extract_date, allow_test_range)
    # Required blanks come first: a blank identifier explains more than a bad date.
    set_aside.sort(key=lambda item: not item[1].startswith("blank"))
    reason: pl.Expr = pl.lit(None, dtype=pl.String)
    column: pl.Expr = pl.lit(None, dtype=pl.String)
    value: pl.Expr = pl.lit(None, dtype=pl.String)
    for condition, why, source_column in reversed(set_aside):
        hit = condition.fill_null(False)
        reason = pl.when(hit).then(pl.lit(why)).otherwise(reason)
        column = pl.when(hit).then(pl.lit(source_column)).otherwise(column)
        value = pl.when(hit).then(pl.col(source_column)).otherwise(value)
    if "_too_long" in frame.columns:
        flags.append((pl.col("_too_long").is_not_null(), "field_too_long"))
    flag_list = (
        pl.concat_list([pl.when(c.fill_null(False)).then(pl.lit(f)).otherwise(None) for c, f in flags])
        .list.drop_nulls()
        if flags
        else pl.lit([], dtype=pl.List(pl.String))
    )
    return frame.select(
        pl.col("_row"), pl.col("_line_hash"), *values,
        reason.alias(REASON), column.alias(REASON_COLUMN), value.alias(REASON_VALUE), flag_list.alias("flags"),
    )
