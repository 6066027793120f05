"""The information-sharing matrix (``config/sharing.yaml``): per rule and recipient, which facts go.

Reviewed data, validated on load before any digest is built. The lawful basis and the reasoning behind
each entry are in docs/information-sharing.md. The hard limits are enforced here, not left to review:

- a fact that only the service holding it may see (its record ids, its appointment dates) can never be
  listed for another service (``other``);
- every fact named must be one the rule can produce (:data:`alerts.facts.RULE_FACTS`);
- every rule has a ``default`` recipient entry, the most a recipient kind not listed may see.

Appointment times, clinical codes and another service's internal ids are not facts at all: nothing in
:mod:`alerts.facts` produces them, so no entry can share them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from alerts.facts import GENERIC_FACTS, OWN_ONLY_FACTS, RULE_FACTS
from ground.config import ConfigError, Strict, load_config_model

DESIGNATED = "designated"
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class SharingConfigError(ConfigError):
    """``sharing.yaml`` is invalid: the message names the file, the key and what is allowed."""


class ServiceInfo(Strict):
    """How a service is named to people in other services."""

    name: str = Field(min_length=1, description="the service as a reader outside it knows it")
    team_label: str = Field(default="team", min_length=1, description="what its team value is: team, practice")
    show_team_to_others: bool = Field(default=True, description="false when the team value is a person's name")
    names: dict[str, str] = Field(default_factory=dict,
                                  description="readable names for team or practice codes (e.g. ODS codes)")
    involvement_sensitive: bool = Field(
        default=False, description="being known to this service is itself sensitive (substance misuse, mental "
        "health): its lead is not named in 'Also sent to' to a reader the matrix does not show the service")


class ShareEntry(Strict):
    """What one recipient kind receives for one rule."""

    own: list[str] = Field(default_factory=list, description="facts about the recipient's own services")
    other: list[str] = Field(default_factory=list, description="facts about other services")

    @model_validator(mode="after")
    def _own_only_stays_own(self) -> ShareEntry:
        leaked = sorted({fact_name(f) for f in self.other} & OWN_ONLY_FACTS)
        if leaked:
            raise ValueError(f"{', '.join(leaked)} may only go to the service holding the record (own), never other")
        return self


    def allows(self, kind: str, service: str | None, own: bool) -> bool:
        """Whether a fact goes: about an own service by ``own``; about another by ``other``.

        Args:
            kind: the fact's name.
            service: the service the fact is about (None: the finding as a whole, allowed by either list).
            own: whether ``service`` is one of the recipient's own.
        """
        if service is None:
            return kind in self.own or kind in self.other
        listed = self.own if own else self.other
        return kind in listed or f"{kind}@{service}" in listed


def fact_name(item: str) -> str:
    """``link@gp`` → ``link``.

    Args:
        item: a matrix entry, a fact name optionally qualified by one service.
    """
    return item.split("@", 1)[0]


class RuleSharing(Strict):
    """One rule: its label, why it matters, who leads, what each recipient kind receives, next steps."""

    label: str = Field(default="", description="overrides the rule module's LABEL when given")
    why_it_matters: str = Field(min_length=1)
    lead_order: list[str] = Field(min_length=1, description="services (or 'designated') in order of ownership")
    recipients: dict[str, ShareEntry] = Field(min_length=1)
    next_step: dict[str, str] = Field(min_length=1)

    @field_validator("recipients", "next_step")
    @classmethod
    def _has_default(cls, value: dict[str, object]) -> dict[str, object]:
        if "default" not in value:
            raise ValueError("needs a 'default' entry (for a recipient kind not listed)")
        bad = [k for k in value if k != "default" and not _KEY.match(k)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a service key or 'designated'")
        return value


class Respond(Strict):
    """How a recipient responds to a finding."""

    case_view_path: str = Field(default="/findings/{reference}",
                                description="appended to SAFELINK_CASE_VIEW_URL when that is set")
    instructions: str = Field(min_length=1, description="what to do when there is no case view address")
    lead_instructions: str = Field(min_length=1, description="the same, for the lead of the finding")

    @field_validator("case_view_path")
    @classmethod
    def _has_reference(cls, value: str) -> str:
        if "{reference}" not in value or not value.startswith("/"):
            raise ValueError("must start with '/' and contain {reference}")
        return value


class SharingConfig(Strict):
    """The whole ``sharing.yaml``."""

    services: dict[str, ServiceInfo] = Field(min_length=1)
    rules: dict[str, RuleSharing] = Field(min_length=1)
    respond: Respond

    @model_validator(mode="after")
    def _facts_known(self) -> SharingConfig:
        problems: list[str] = []
        for rule, sharing in self.rules.items():
            allowed = RULE_FACTS.get(rule, GENERIC_FACTS)
            for kind, entry in sharing.recipients.items():
                for side in ("own", "other"):
                    unknown = sorted({fact_name(f) for f in getattr(entry, side)} - allowed)
                    if unknown:
                        problems.append(f"rules.{rule}.recipients.{kind}.{side}: unknown fact(s) {unknown}; "
                                        f"this rule produces {sorted(allowed)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def rule(self, name: str) -> RuleSharing:
        """The entry of a rule; a rule missing from the matrix is refused rather than shared by guesswork.

        Args:
            name: the rule name.

        Raises:
            SharingConfigError: the rule has no entry.
        """
        try:
            return self.rules[name]
        except KeyError:
            raise SharingConfigError(
                f"sharing.yaml: rule {name!r} has no entry under 'rules': add one (why_it_matters, "
                "lead_order, recipients, next_step) before its findings can be sent"
            ) from None

    def service_name(self, service: str) -> str:
        """The service's readable name (the key itself when not configured).

        Args:
            service: a source key.
        """
        info = self.services.get(service)
        return info.name if info else service

    def entries_for(self, rule: str, kinds: frozenset[str]) -> ShareEntry:
        """What a recipient of these kinds may see for a rule: the union of their kinds' entries.

        A lead who covers two services is entitled to what each of them is; a kind not listed gets
        the rule's ``default`` entry.

        Args:
            rule: the rule name.
            kinds: the recipient's services (or ``designated``).
        """
        recipients = self.rule(rule).recipients
        chosen = [recipients[k] for k in sorted(kinds) if k in recipients] or [recipients["default"]]
        own = sorted({f for e in chosen for f in e.own})
        other = sorted({f for e in chosen for f in e.other})
        return ShareEntry(own=own, other=other)

    def next_step(self, rule: str, kinds: frozenset[str]) -> str:
        """The configured next step for a recipient of these kinds (first listed kind, else the default).

        Args:
            rule: the rule name.
            kinds: the recipient's services (or ``designated``).
        """
        steps = self.rule(rule).next_step
        for kind in sorted(kinds):
            if kind in steps:
                return steps[kind]
        return steps["default"]


def load_sharing(config_dir: Path, rules: Iterable[str] = ()) -> SharingConfig:
    """Load and validate ``<config_dir>/sharing.yaml``, refusing it when an enabled rule has no entry.

    Args:
        config_dir: the configuration folder.
        rules: the rules that will run (each needs an entry: its findings cannot be shared by guesswork).

    Raises:
        SharingConfigError: naming the file, the key and what is allowed.
    """
    path = config_dir / "sharing.yaml"
    if not path.exists():
        raise SharingConfigError(f"{path}: missing (the information-sharing matrix is required to send digests)")
    config = load_config_model(path, SharingConfig, error=SharingConfigError)
    missing = sorted(set(rules) - set(config.rules))
    if missing:
        raise SharingConfigError(
            f"{path}: no entry under 'rules' for {', '.join(missing)}: add one (why_it_matters, lead_order, "
            "recipients, next_step) before its findings can be sent (docs/information-sharing.md)"
        )
    return config
