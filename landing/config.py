"""Typed description of the nightly extracts (``config/sources.yaml``), validated on load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from safelink.identifiers import SOURCE_KEY_PATTERN

ModelT = TypeVar("ModelT", bound=BaseModel)
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
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


class FileSpec(_Strict):
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


class SourceSpec(_Strict):
    """One source system and its files."""

    label: str
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


class SourcesConfig(_Strict):
    """All sources of the nightly drop."""

    sources: dict[SourceKey, SourceSpec]
    allow_test_range_nhs_numbers: bool = True


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigError(ValueError):
    """A configuration file is invalid: the message names the file, the key and what is allowed."""


def format_validation_error(path: Path, error: ValidationError) -> str:
    """Turn a pydantic error into lines naming file, key path and what is wrong.

    Args:
        path: the configuration file.
        error: the pydantic validation error.
    """
    lines = [f"{path}: invalid configuration"]
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  at {key}: {item['msg']}")
    return "\n".join(lines)


def load_yaml(path: Path) -> Any:
    """Read a YAML file, turning syntax errors into a :class:`ConfigError` naming the file.

    Args:
        path: the YAML file.
    """
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def load_config_model(path: Path, model: type[ModelT], *, optional: bool = False,
                      error: type[ConfigError] = ConfigError) -> ModelT:
    """The one way every YAML configuration file is read: parse, validate, and name the file and key on error.

    Args:
        path: the YAML file.
        model: the pydantic model of the file.
        optional: an absent (or empty) file means the model's defaults.
        error: the :class:`ConfigError` subclass to raise.

    Raises:
        ConfigError: the file is missing (unless optional), not YAML, or breaks the schema.
    """
    if optional and not path.exists():
        return model()
    try:
        raw = load_yaml(path)
    except ConfigError as exc:
        raise error(str(exc)) from None
    if raw is None and optional:
        raw = {}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise error(format_validation_error(path, exc)) from None


def load_sources(path: Path) -> SourcesConfig:
    """Load and validate ``sources.yaml``.

    Args:
        path: the file, usually ``<config>/sources.yaml``.
    """
    return load_config_model(path, SourcesConfig)
