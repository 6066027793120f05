"""Typed thresholds of the data-quality gate (``config/checks.yaml``), validated on load."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from ground.config import Strict, load_config_model


class RowCountBand(Strict):
    """How far tonight's row count may move from the previous night's."""

    max_drop: float = Field(0.30, ge=0, le=1)
    max_rise: float = Field(1.00, ge=0)
    min_previous_rows: int = Field(20, ge=0)


class MinRows(Strict):
    """Fewest rows a present file may hold, per table."""

    people: int = Field(1, ge=0)
    appointments: int = Field(0, ge=0)
    mentions: int = Field(0, ge=0)


class BatchThresholds(Strict):
    """Thresholds that fail a whole source for the night."""

    max_quarantined_share: float = Field(0.05, ge=0, le=1)
    min_rows_for_share: int = Field(100, ge=0)
    min_rows: MinRows = MinRows()
    fail_on_missing_file: bool = True
    row_count: RowCountBand = RowCountBand()
    flags_fail_gate: bool = False


class QuarantineRules(Strict):
    """Row-level checks that set a row aside."""

    max_age_years: int = Field(120, gt=0, le=200)


class Tolerance(Strict):
    """A flag-level check: fails when fewer than ``mostly`` of the rows pass."""

    mostly: float = Field(0.95, ge=0, le=1)


class AgeTolerance(Tolerance):
    """Flag-level age check, with a tolerance in years either side of the service's band."""

    tolerance_years: int = Field(1, ge=0)


class AppointmentDateTolerance(Tolerance):
    """Flag-level check of appointment dates after the extract date."""

    days_ahead: int = Field(366, ge=0)


class FlagRules(Strict):
    """The flag-level checks and their tolerances."""

    nhs_number: Tolerance = Tolerance(mostly=0.95)
    nhs_status: Tolerance = Tolerance(mostly=0.99)
    postcode: Tolerance = Tolerance(mostly=0.95)
    identifier_shape: Tolerance = Tolerance(mostly=0.99)
    age: AgeTolerance = AgeTolerance(mostly=0.97)
    start_date: Tolerance = Tolerance(mostly=0.99)
    outcome: Tolerance = Tolerance(mostly=0.99)
    known_owner: Tolerance = Tolerance(mostly=0.95)
    appointment_date: AppointmentDateTolerance = AppointmentDateTolerance(mostly=0.99)


class AgeBand(Strict):
    """Plausible ages for a service, in whole years (``None``: no bound)."""

    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)


class ChecksConfig(Strict):
    """All thresholds of the gate."""

    batch: BatchThresholds = BatchThresholds()
    quarantine: QuarantineRules = QuarantineRules()
    flags: FlagRules = FlagRules()
    ages: dict[str, AgeBand] = Field(default_factory=dict)
    identifiers: dict[str, str] = Field(default_factory=dict)

    @field_validator("identifiers")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for source, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"identifiers.{source}: not a regular expression: {exc}") from None
        return value


def load_checks(path: Path) -> ChecksConfig:
    """Load and validate ``checks.yaml``; an absent file means the defaults.

    Args:
        path: the file, usually ``<config>/checks.yaml``.

    Raises:
        ConfigError: the file is not valid YAML or breaks the schema (the message names file and key).
    """
    return load_config_model(path, ChecksConfig, optional=True)
