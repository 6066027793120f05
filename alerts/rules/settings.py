"""Settings every rule shares, and the base each rule's own settings model extends.

The whole ``rules.yaml`` model is assembled from the rule registry (:mod:`alerts.rules.config`): one
``rules.<name>`` entry per registered rule, typed by that rule's ``Settings``. Rule modules import
this module, never the registry, so the registry may import them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, TypeVar

from pydantic import Field, model_validator

from ground.config import Strict

ServiceName = Literal["camhs", "sn", "hv", "mental_health"]


class ServiceTerms(Strict):
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


class RuleBase(Strict):
    """Settings shared by every rule (each rule's ``Settings`` extends this)."""

    enabled: bool = True
    version: str = "1"

    def sources_named(self) -> dict[str, list[str]]:
        """The source codes these settings name, by key (checked against sources.yaml on load)."""
        return {}


SettingsT = TypeVar("SettingsT", bound=RuleBase)


class RulesConfig(Strict):
    """The whole ``rules.yaml``: shared settings, and ``rules`` with one entry per registered rule.

    Build it with :func:`alerts.rules.config.load_rules` or ``alerts.rules.config.RULES_CONFIG()``;
    this class is the type every rule and the engine see.
    """

    child_under_age: int = Field(default=18, ge=1, description="a child is anyone under this age on the extract date")
    link_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="a finding relying on a link or mention below this confidence needs confirmation",
    )
    service_terms: dict[ServiceName, ServiceTerms] = Field(default_factory=_default_terms)
    rules: Strict = Field(default_factory=Strict)

    @model_validator(mode="after")
    def _all_terms(self) -> RulesConfig:
        missing = {"camhs", "sn", "hv", "mental_health"} - set(self.service_terms)
        if missing:
            raise ValueError(f"service_terms needs every service: missing {sorted(missing)}")
        return self

    def each_rule(self) -> Iterator[tuple[str, RuleBase]]:
        """``(name, settings)`` of every registered rule, in the registry's order."""
        for name, value in self.rules:
            if isinstance(value, RuleBase):
                yield name, value

    def settings(self, name: str, model: type[SettingsT]) -> SettingsT:
        """One rule's settings, typed by its model.

        Args:
            name: the rule's name.
            model: the rule's settings class.

        Raises:
            KeyError: no rule of that name is registered.
        """
        value = getattr(self.rules, name, None)
        if not isinstance(value, model):
            raise KeyError(f"rules.{name}: no registered rule with settings {model.__name__}")
        return value

    def enabled(self) -> list[str]:
        """Names of the enabled rules, in the registry's order."""
        return [name for name, settings in self.each_rule() if settings.enabled]
