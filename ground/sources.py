"""The source registry: the nightly extracts as ``config/sources.yaml`` describes them, validated on load.

Every source code and its files come from that YAML alone; nothing else in the code lists them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from ground.config import Strict, load_config_model
from ground.identifiers import SOURCE_KEY_PATTERN

Table = Literal["people", "appointments", "mentions"]
# A source key names folders, file names and state rows: a short slug, never a path.
SourceKey = Annotated[str, StringConstraints(pattern=SOURCE_KEY_PATTERN)]
# A file's name stem (``HV_Caseload``): letters, digits, ``_ . -``, never a path.
FileStem = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
ParseKind = Literal["text", "date", "nhs_number", "postcode", "code", "bool", "name_part", "address_part"]

NAME_PARTS = {
    "surname_comma_forename.surname",
    "surname_comma_forename.forename",
    "forename_space_surname.forename",
    "forename_space_surname.surname",
}

# Canonical fields each table may receive from a file (see docs/architecture.md).
CANONICAL_FIELDS: dict[str, set[str]] = {
    "people": {
        "record_id", "nhs_number", "nhs_status", "title", "forename", "middle_names", "surname",
        "known_as", "dob", "sex", "address_line1", "postcode", "team", "practice", "school", "staff",
        "cp_plan", "looked_after", "other_services", "start_date", "end_date", "episode_id",
        "parental_status", "has_dependent_children", "substance_service_involved",
    },
    "appointments": {"record_id", "appt_date", "appt_time", "appt_type", "outcome", "staff"},
    "mentions": {
        "owner_record_id", "forename", "surname", "dob", "nhs_number", "relationship", "lives_with",
        "parental_responsibility",
    },
}
REQUIRED_FIELDS: dict[str, set[str]] = {
    "people": {"record_id", "surname", "dob"},
    "appointments": {"record_id", "appt_date", "outcome"},
    "mentions": {"owner_record_id"},
}
APPOINTMENT_OUTCOMES = {"attended", "missed", "cancelled_by_patient", "cancelled_by_provider", "other"}


class FieldSpec(Strict):
    """How one canonical field is read from one source column."""

    column: str
    parse: ParseKind = "text"
    formats: list[str] = Field(default_factory=list)
    two_digit_year: Literal["past", "recent"] | None = None
    map: dict[str, Any] | None = None
    part: str | None = None
    required: bool = False
    strict: bool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if self.parse == "date" and not self.formats:
            raise ValueError("parse: date needs 'formats' (e.g. ['%d/%m/%Y'])")
        if self.parse != "date" and (self.formats or self.two_digit_year):
            raise ValueError("'formats' and 'two_digit_year' only apply to parse: date")
        if self.parse in ("code", "bool") and not self.map:
            raise ValueError(f"parse: {self.parse} needs a 'map' of source value to canonical value")
        if self.parse == "name_part" and self.part not in NAME_PARTS:
            raise ValueError(f"parse: name_part needs 'part', one of {sorted(NAME_PARTS)}")
        if self.parse == "address_part" and self.part != "first":
            raise ValueError("parse: address_part needs 'part: first'")
        if any("%y" in f for f in self.formats) and self.two_digit_year is None:
            raise ValueError("a format with %y needs 'two_digit_year: past' or 'two_digit_year: recent'")
        return self

    @property
    def is_strict(self) -> bool:
        """A non-blank value that fails to parse sets the row aside (dates default to strict)."""
        if self.strict is not None:
            return self.strict
        return self.parse == "date"


class FileSpec(Strict):
    """One extract file of a source."""

    name: FileStem
    table: Table
    encoding: Literal["utf-8", "utf-8-sig", "cp1252", "latin-1"] = "utf-8"
    kind: Literal["related_person", "named_child", "dependant"] | None = None
    open_when: Literal["always", "end_date_blank"] | None = None
    one_row_per_record: bool = True
    fields: dict[str, FieldSpec]
    other_columns: list[str] = Field(default_factory=list)  # in the layout, not used: no warning

    @model_validator(mode="after")
    def _consistent(self) -> FileSpec:
        allowed = CANONICAL_FIELDS[self.table]
        unknown = sorted(set(self.fields) - allowed)
        if unknown:
            raise ValueError(f"unknown field(s) {unknown} for table {self.table}; allowed: {sorted(allowed)}")
        missing = sorted(REQUIRED_FIELDS[self.table] - set(self.fields))
        if missing:
            raise ValueError(f"table {self.table} needs field(s) {missing}")
        if self.table == "mentions" and self.kind is None:
            raise ValueError("a mentions file needs 'kind': related_person | named_child | dependant")
        if self.table == "people" and self.open_when is None:
            raise ValueError("a people file needs 'open_when': always | end_date_blank")
        if self.open_when == "end_date_blank" and "end_date" not in self.fields:
            raise ValueError("open_when: end_date_blank needs an 'end_date' field")
        if "outcome" in self.fields:
            spec = self.fields["outcome"]
            bad = sorted({str(v) for v in (spec.map or {}).values()} - APPOINTMENT_OUTCOMES)
            if spec.parse != "code" or bad:
                raise ValueError(f"outcome must be parse: code mapping onto {sorted(APPOINTMENT_OUTCOMES)}")
        return self

    @property
    def columns(self) -> list[str]:
        """The source columns this file must have, in first-use order."""
        return list(dict.fromkeys(spec.column for spec in self.fields.values()))

    def file_name(self, extract_date_compact: str) -> str:
        """The file's name on a given night, e.g. ``HV_Caseload_20261125.csv``."""
        return f"{self.name}_{extract_date_compact}.csv"


class RouteSpec(Strict):
    """How a finding reaches this source's safeguarding leads: the routing key ``<source>:<kind>:<value>``,
    the value being the people record's ``field`` (a team name or a practice code)."""

    kind: Literal["team", "practice"] = "team"
    field: Literal["team", "practice"] = "team"
    value_pattern: str | None = Field(default=None, description="a regular expression every named value matches")
    value_hint: str = Field(default="a team or practice name", description="what a value is, for error messages")


class SourceSpec(Strict):
    """One source system: who it serves, how its findings are routed, and its files."""

    label: str
    serves: Literal["children", "adults", "everyone"] = Field(
        default="everyone", description="a person with no date of birth anywhere is a child if known only to "
        "services for children, an adult if known to a service for adults")
    dob_rank: int = Field(default=9, ge=0, description="when a person's records disagree on the date of birth and "
                          "the vote ties, the lowest rank wins")
    route: RouteSpec = Field(default_factory=RouteSpec)
    files: list[FileSpec]

    @model_validator(mode="after")
    def _one_people_file(self) -> SourceSpec:
        people = [f for f in self.files if f.table == "people"]
        if len(people) != 1:
            raise ValueError(f"a source needs exactly one people file, found {len(people)}")
        return self

    @property
    def people_file(self) -> FileSpec:
        """The source's people file."""
        return next(f for f in self.files if f.table == "people")


class SourcesConfig(Strict):
    """All sources of the nightly drop: the source registry."""

    sources: dict[SourceKey, SourceSpec]
    allow_test_range_nhs_numbers: bool = True

    @property
    def codes(self) -> tuple[str, ...]:
        """Every source code, in the file's order."""
        return tuple(self.sources)

    def serving(self, who: Literal["children", "adults", "everyone"]) -> tuple[str, ...]:
        """The sources that serve ``who``.

        Args:
            who: ``children``, ``adults`` or ``everyone``.
        """
        return tuple(code for code, spec in self.sources.items() if spec.serves == who)

    def unknown(self, codes: Iterable[str]) -> list[str]:
        """The codes that name no source, in their order.

        Args:
            codes: source codes used elsewhere in the configuration.
        """
        return [code for code in codes if code not in self.sources]

    def allowed(self) -> str:
        """The source codes, quoted, for error messages."""
        return ", ".join(repr(code) for code in self.sources)


def load_sources(path: Path) -> SourcesConfig:
    """Load and validate ``sources.yaml``.

    Args:
        path: the file, usually ``<config>/sources.yaml``.
    """
    return load_config_model(path, SourcesConfig)


def load_registry(config_dir: Path) -> SourcesConfig:
    """The source registry of a configuration folder (``<config_dir>/sources.yaml``).

    Args:
        config_dir: the configuration folder.

    Raises:
        ConfigError: the file is missing or invalid.
    """
    return load_sources(config_dir / "sources.yaml")
