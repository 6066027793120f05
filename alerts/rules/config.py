"""Typed configuration of the four safeguarding rules (``config/rules.yaml``), validated on load.

The defaults below reproduce docs/data-contract.md ("The four rules") exactly; the shipped YAML
spells them out so that every threshold, window and code list is visible and reviewable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from landing.config import load_config_model

Source = Literal["hv", "sn", "camhs", "gp", "dental", "tp", "amh"]
ChildService = Literal["hv", "sn"]
ServiceName = Literal["camhs", "sn", "hv", "mental_health"]
RULE_NAMES = ("repeated_non_attendance", "significant_adult", "dual_service_parent", "unshared_involvement")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceTerms(_Strict):
    """How a service is recognised in one ``;``-separated part of a free-text services field.

    Matching is case-insensitive on the trimmed part: a part names the service when it *contains*
    one of ``contains`` or *equals* one of ``equals``.
    """

    contains: list[str] = Field(default_factory=list)
    equals: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> ServiceTerms:
        if not self.contains and not self.equals:
            raise ValueError("give at least one term in 'contains' or 'equals'")
        return self


def _default_terms() -> dict[ServiceName, ServiceTerms]:
    return {
        "camhs": ServiceTerms(contains=["camhs"]),
        "sn": ServiceTerms(equals=["school nursing", "school nurse", "sn"]),
        "hv": ServiceTerms(equals=["health visiting", "health visitor", "hv"]),
        "mental_health": ServiceTerms(contains=["mental health"], equals=["cmht", "amh"]),
    }


def _hv_sn() -> list[ChildService]:
    return ["hv", "sn"]


def _flag_sources() -> list[Source]:
    return ["hv", "sn"]


def _tp_amh() -> list[Literal["tp", "amh"]]:
    return ["tp", "amh"]


def _default_missed() -> dict[Source, list[str]]:
    return {
        "hv": ["Was Not Brought", "No Access Visit"],
        "sn": ["WNB", "DNA"],
        "camhs": ["3", "7"],
        "gp": ["Did Not Attend"],
        "dental": ["FTA"],
    }


class RuleBase(_Strict):
    """Settings shared by every rule."""

    enabled: bool = True
    version: str = "1"


class RepeatedNonAttendance(RuleBase):
    """``repeated_non_attendance``: missed appointments of a child across sources."""

    window_days: int = Field(default=365, ge=1, description="the extract date and the window_days - 1 days before it")
    min_missed: int = Field(default=3, ge=1)
    min_sources: int = Field(default=2, ge=1)
    flagged_min_missed: int = Field(default=2, ge=1, description="threshold for a child on a CP plan or looked after")
    flagged_min_sources: int = Field(default=1, ge=1)
    missed_outcomes: dict[Source, list[str]] = Field(default_factory=_default_missed)
    flag_sources: list[Source] = Field(default_factory=_flag_sources)


class SignificantAdult(RuleBase):
    """``significant_adult``: an adult known to adult services linked to a child, absent from the child's record."""

    child_sources: list[ChildService] = Field(default_factory=_hv_sn)
    adult_sources: list[Literal["tp", "amh"]] = Field(default_factory=_tp_amh)
    link_by_named_child: bool = True
    link_by_gp_address: bool = True
    name_fallback: bool = Field(
        default=True, description="a related-people row naming the adult (nickname-aware forename + surname) counts"
    )
    fallback_forename_similarity: float = Field(default=0.85, ge=0.0, le=1.0)


class DualServiceParent(RuleBase):
    """``dual_service_parent``: a parent open to both tp and amh where the records do not show each other."""

    parental_status_prefix: str = "Parent"
    has_dependent_children_yes: str = "Yes"
    substance_service_yes: str = "Yes"
    named_child_counts_as_parent: bool = True


class UnsharedInvolvement(RuleBase):
    """``unshared_involvement``: a child open to camhs and to sn/hv where the records do not show each other."""

    child_sources: list[ChildService] = Field(default_factory=_hv_sn)


class Rules(_Strict):
    """The four rules."""

    repeated_non_attendance: RepeatedNonAttendance = Field(default_factory=lambda: RepeatedNonAttendance())
    significant_adult: SignificantAdult = Field(default_factory=lambda: SignificantAdult())
    dual_service_parent: DualServiceParent = Field(default_factory=lambda: DualServiceParent())
    unshared_involvement: UnsharedInvolvement = Field(default_factory=lambda: UnsharedInvolvement())


class RulesConfig(_Strict):
    """The whole ``rules.yaml``."""

    child_under_age: int = Field(default=18, ge=1, description="a child is anyone under this age on the extract date")
    link_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="a finding relying on a link or mention below this confidence needs confirmation",
    )
    service_terms: dict[ServiceName, ServiceTerms] = Field(
        default_factory=_default_terms
    )
    rules: Rules = Field(default_factory=lambda: Rules())

    @model_validator(mode="after")
    def _all_terms(self) -> RulesConfig:
        missing = {"camhs", "sn", "hv", "mental_health"} - set(self.service_terms)
        if missing:
            raise ValueError(f"service_terms needs every service: missing {sorted(missing)}")
        return self

    def enabled(self) -> list[str]:
        """Names of the enabled rules, in a fixed order."""
        return [name for name in RULE_NAMES if getattr(self.rules, name).enabled]


def load_rules(config_dir: Path) -> RulesConfig:
    """Load and validate ``<config_dir>/rules.yaml`` (all defaults when the file is absent).

    Args:
        config_dir: the configuration folder.

    Raises:
        ConfigError: the file is invalid; the message names the file, the key and the allowed values.
    """
    return load_config_model(config_dir / "rules.yaml", RulesConfig, optional=True)
