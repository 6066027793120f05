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
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.rules.frames import DESIGNATED_ROUTE
from landing.config import ConfigError, load_config_model

SERVICES: tuple[str, ...] = ("hv", "sn", "camhs", "gp", "dental", "tp", "amh")
Service = Literal["hv", "sn", "camhs", "gp", "dental", "tp", "amh"]
# The kind of value each service routes on (``<service>:<kind>:<value>``).
ROUTE_KIND: dict[str, str] = {
    "hv": "team", "sn": "team", "camhs": "team", "amh": "team", "tp": "team",
    "gp": "practice", "dental": "practice",
}
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address of the form name@domain.tld")
    return value


class Coverage(_Strict):
    """What one lead covers: whole services, named teams/practices, and catch-alls."""

    services: list[Service] = Field(default_factory=list)
    hv: list[str] = Field(default_factory=list, description="HV Team names")
    sn: list[str] = Field(default_factory=list, description="school nursing Team names")
    camhs: list[str] = Field(default_factory=list, description="CAMHS TEAM names")
    gp: list[str] = Field(default_factory=list, description="GP practice (ODS) codes")
    dental: list[str] = Field(default_factory=list, description="dental practice names")
    tp: list[str] = Field(default_factory=list, description="Turning Point keyworker teams")
    amh: list[str] = Field(default_factory=list, description="adult mental health Team names")
    catch_all: list[Service] = Field(default_factory=list)

    @field_validator("gp")
    @classmethod
    def _ods_codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not re.fullmatch(r"[A-Z][0-9A-Z]{4,5}", code):
                raise ValueError(f"{code!r} is not a GP practice ODS code (e.g. N81006)")
        return codes

    def values(self, service: str) -> list[str]:
        """The named teams/practices covered for one service.

        Args:
            service: a source key.
        """
        return list(getattr(self, service))

    def is_empty(self) -> bool:
        """True when the lead covers nothing at all."""
        return not (self.services or self.catch_all or any(self.values(s) for s in SERVICES))


class Lead(_Strict):
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


class Recipient(_Strict):
    """A named recipient who is not a lead (designated professional, data engineering)."""

    name: str = Field(min_length=1)
    role: str = ""
    email: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return _check_email(value)


class Presentation(_Strict):
    """How people are shown in a digest body (never in subjects or file names)."""

    nhs_visible_digits: int = Field(default=4, ge=0, le=10)
    show_record_ids: bool = True
    show_summary: bool = False


class LeadsConfig(_Strict):
    """The whole ``leads.yaml``."""

    allowed_recipient_domains: list[str] = Field(min_length=1)
    demo_addresses: bool = False
    leads: dict[str, Lead] = Field(min_length=1)
    designated_professional: Recipient
    data_engineering: Recipient
    presentation: Presentation = Presentation()

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
    if service not in ROUTE_KIND or ROUTE_KIND[service] != kind or not value.strip():
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
        if parsed is None:
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
