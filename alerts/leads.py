"""Named safeguarding leads and what they cover (``config/leads.yaml``), validated on load.

A finding carries routing keys such as ``hv:team:Chester Central HV`` or ``gp:practice:N81006``.
A lead covers a route when the route's service is one of the lead's ``services`` (the whole
service), or the route's value is listed under the lead's coverage for that service. A lead with
``catch_all`` for a service receives that service's routes that no other lead covers (an unknown
or new team), so no finding goes unrouted because a team was renamed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, field_validator, model_validator

from alerts.rules.frames import DESIGNATED_ROUTE
from ground.config import ConfigError, Strict, load_config_model
from ground.sources import SourcesConfig, load_registry

ROUTE_KINDS = ("team", "practice")
# The recipient key of the designated professionals (their daily summary, and findings routed to them).
DESIGNATED_KEY = "designated"
_RESERVED_KEYS = (DESIGNATED_KEY, "designated_findings", "failure")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$")
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class LeadsConfigError(ConfigError):
    """``leads.yaml`` is invalid, or a recipient is not allowed: the message names file and key."""


def normalise_value(value: str) -> str:
    """Compare team and practice names case-insensitively with runs of spaces collapsed.

    Args:
        value: a team name, practice code or practice name.
    """
    return " ".join(value.split()).casefold()


def email_domain(address: str) -> str:
    """The domain of an e-mail address, lower case.

    Args:
        address: an e-mail address.
    """
    return address.rsplit("@", 1)[-1].lower()


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address of the form name@domain.tld")
    return value


class Coverage(Strict):
    """What one lead covers: whole services, named teams/practices per service, and catch-alls.

    In YAML the named values sit under the source's code (``hv: [Chester Central HV]``, ``gp: [N81006]``);
    every code is checked against sources.yaml on load, and values against the source's ``route.value_pattern``.
    """

    services: list[str] = Field(default_factory=list)
    catch_all: list[str] = Field(default_factory=list)
    named: dict[str, list[str]] = Field(default_factory=dict, description="team names or practice codes by source")

    @model_validator(mode="before")
    @classmethod
    def _named_by_source(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        own = {k: v for k, v in data.items() if k in ("services", "catch_all", "named")}
        others = {k: v for k, v in data.items() if k not in own}
        if others:
            own["named"] = {**(own.get("named") or {}), **others}
        return own

    def values(self, service: str) -> list[str]:
        """The named teams/practices covered for one service.

        Args:
            service: a source code.
        """
        return list(self.named.get(service, []))

    def is_empty(self) -> bool:
        """True when the lead covers nothing at all."""
        return not (self.services or self.catch_all or any(self.named.values()))

    def problems(self, at: str, registry: SourcesConfig) -> list[str]:
        """What the source registry does not allow here, one line per problem.

        Args:
            at: the key path of this coverage (``leads.<key>.covers``).
            registry: the source registry.
        """
        unknown = f"unknown source; sources.yaml names {registry.allowed()}"
        found = [f"  at {at}.{field}.{i}: {code!r}: {unknown}"
                 for field in ("services", "catch_all") for i, code in enumerate(getattr(self, field))
                 if code not in registry.sources]
        for code, values in self.named.items():
            spec = registry.sources.get(code)
            if spec is None:
                found.append(f"  at {at}.{code}: {unknown}")
                continue
            pattern = spec.route.value_pattern
            found += [f"  at {at}.{code}: {value!r} is not {spec.route.value_hint}"
                      for value in values if pattern and not re.fullmatch(pattern, value)]
        return found


class Lead(Strict):
    """A named safeguarding lead who receives one digest per night."""

    name: str = Field(min_length=1)
    role: str = Field(min_length=1)
    email: str
    covers: Coverage

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return _check_email(value)

    @model_validator(mode="after")
    def _covers_something(self) -> Lead:
        if self.covers.is_empty():
            raise ValueError("covers nothing: list services, teams/practices, or catch_all")
        return self


class Recipient(Strict):
    """A named recipient who is not a lead (designated professional, data engineering)."""

    name: str = Field(min_length=1)
    role: str = ""
    email: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return _check_email(value)


class Presentation(Strict):
    """How people are shown in a digest body (never in subjects or file names)."""

    nhs_visible_digits: int = Field(default=4, ge=0, le=10)
    show_record_ids: bool = True
    show_summary: bool = False


class LeadsConfig(Strict):
    """The whole ``leads.yaml``."""

    allowed_recipient_domains: list[str] = Field(min_length=1)
    demo_addresses: bool = False
    leads: dict[str, Lead] = Field(min_length=1)
    designated_professional: Recipient
    data_engineering: Recipient
    presentation: Presentation = Presentation()
    _route_kinds: dict[str, str] = PrivateAttr(default_factory=dict)

    def set_route_kinds(self, kinds: dict[str, str]) -> None:
        """Record each source's route kind (from sources.yaml; :func:`load_leads` does this).

        Args:
            kinds: source code → ``team`` or ``practice``.
        """
        self._route_kinds = dict(kinds)

    def routes_on(self, service: str, kind: str) -> bool:
        """Whether ``service`` is a source whose routes name a ``kind`` (team or practice).

        Args:
            service: a source code.
            kind: ``team`` or ``practice``.
        """
        return self._route_kinds.get(service) == kind

    def route_kind(self, service: str) -> str:
        """What a service's routes name: ``team`` or ``practice`` (``team`` when unknown).

        Args:
            service: a source code.
        """
        return self._route_kinds.get(service, "team")

    @field_validator("allowed_recipient_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        for domain in domains:
            if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain):
                raise ValueError(f"{domain!r} is not a lower-case domain such as nhs.net")
        return domains

    @field_validator("leads")
    @classmethod
    def _keys(cls, leads: dict[str, Lead]) -> dict[str, Lead]:
        for key in leads:
            if not _KEY.match(key) or key in _RESERVED_KEYS:
                raise ValueError(
                    f"lead key {key!r} must be lower case letters, digits, '_' or '-' (at most 40), "
                    f"not one of {', '.join(_RESERVED_KEYS)}: it names outbox files"
                )
        return leads

    def recipients(self) -> dict[str, str]:
        """Every configured address by the key that names it."""
        found = {f"leads.{key}.email": lead.email for key, lead in self.leads.items()}
        found["designated_professional.email"] = self.designated_professional.email
        found["data_engineering.email"] = self.data_engineering.email
        return found

    def is_allowed(self, address: str) -> bool:
        """Whether an address's domain is on the allow-list (exact domain match).

        Args:
            address: an e-mail address.
        """
        return email_domain(address) in self.allowed_recipient_domains


def load_leads(config_dir: Path) -> LeadsConfig:
    """Load and validate ``<config_dir>/leads.yaml``, refusing recipients outside the allow-list.

    Args:
        config_dir: the configuration folder.

    Raises:
        LeadsConfigError: naming the file, the key and what is allowed.
    """
    path = config_dir / "leads.yaml"
    if not path.exists():
        raise LeadsConfigError(f"{path}: missing (named leads and their coverage are required to send digests)")
    config = load_config_model(path, LeadsConfig, error=LeadsConfigError)
    registry = load_registry(config_dir)
    problems = [line for key, lead in config.leads.items() for line in lead.covers.problems(f"leads.{key}.covers",
                                                                                            registry)]
    if problems:
        raise LeadsConfigError(f"{path}: invalid configuration\n" + "\n".join(problems))
    config.set_route_kinds({code: spec.route.kind for code, spec in registry.sources.items()})
    refused = [f"  at {key}: domain {email_domain(addr)!r} is not allowed"
               for key, addr in config.recipients().items() if not config.is_allowed(addr)]
    if refused:
        allowed = ", ".join(config.allowed_recipient_domains)
        raise LeadsConfigError(
            f"{path}: recipients outside the allow-list (allowed_recipient_domains: {allowed})\n" + "\n".join(refused)
        )
    return config


def parse_route(route: str) -> tuple[str, str] | None:
    """Split ``<service>:<kind>:<value>`` into (service, value); None when malformed.

    Args:
        route: a routing key from a finding.
    """
    parts = route.split(":", 2)
    if len(parts) != 3:
        return None
    service, kind, value = parts
    if not service or kind not in ROUTE_KINDS or not value.strip():
        return None
    return service, value


def route_finding(routes: list[str], config: LeadsConfig) -> set[str]:
    """The keys of the leads who receive a finding with these routes (:data:`DESIGNATED_KEY` for the
    designated professionals).

    Args:
        routes: the finding's routing keys.
        config: the leads configuration.
    """
    chosen: set[str] = set()
    for route in routes:
        if route == DESIGNATED_ROUTE:
            chosen.add(DESIGNATED_KEY)
            continue
        parsed = parse_route(route)
        if parsed is None or not config.routes_on(parsed[0], route.split(":", 2)[1]):
            continue
        service, value = parsed
        wanted = normalise_value(value)
        matched = {
            key for key, lead in config.leads.items()
            if service in lead.covers.services
            or any(normalise_value(v) == wanted for v in lead.covers.values(service))
        }
        if not matched:
            matched = {key for key, lead in config.leads.items() if service in lead.covers.catch_all}
        chosen |= matched
    return chosen
