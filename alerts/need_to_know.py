"""The need-to-know view of a finding: what one recipient may be shown, in plain English.

One function decides it for every output meant for a person: the nightly digests and the case view
(``/findings/{id}``) both call :meth:`NeedToKnow.view` with a finding row and a recipient, and render
the :class:`FindingView` it returns. Which facts go is the sharing matrix (``config/sharing.yaml``);
how a finding reads as facts is :mod:`alerts.facts`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from alerts.facts import Fact, FindingFacts, finding_facts, long_date
from alerts.leads import DESIGNATED_KEY, Lead, LeadsConfig, load_leads, parse_route, route_finding
from alerts.present import confidence_label, initials, mask_nhs
from alerts.rules.registry import ADULT_ROLES, RULE_LABELS
from alerts.sharing import DESIGNATED, ShareEntry, SharingConfig, load_sharing

PEOPLE_COLUMNS = ("source", "record_id", "forename", "surname", "nhs_number", "team", "practice")


@dataclass(frozen=True)
class Recipient:
    """Who reads a finding: a named lead (their services) or the designated professionals."""

    key: str
    name: str
    role: str
    email: str
    kinds: frozenset[str]

    @property
    def designated(self) -> bool:
        """Whether this is the designated professionals' mailbox."""
        return DESIGNATED in self.kinds


def lead_services(lead: Lead) -> frozenset[str]:
    """The services a lead covers in any way (whole, named teams or practices, catch-all).

    Args:
        lead: a lead from ``leads.yaml``.
    """
    covers = lead.covers
    named = {s for s, values in covers.named.items() if values}
    return frozenset(set(covers.services) | set(covers.catch_all) | named)


def lead_recipient(key: str, lead: Lead) -> Recipient:
    """A lead as a recipient.

    Args:
        key: the lead's key in ``leads.yaml``.
        lead: the lead.
    """
    return Recipient(key, lead.name, lead.role, lead.email, lead_services(lead))


def designated_recipient(leads: LeadsConfig) -> Recipient:
    """The designated professionals as a recipient.

    Args:
        leads: the leads configuration.
    """
    person = leads.designated_professional
    return Recipient(DESIGNATED_KEY, person.name, person.role or "Designated professional", person.email,
                     frozenset({DESIGNATED}))


@dataclass(frozen=True)
class PersonLine:
    """A person as a digest shows them: role in the finding, initials, masked NHS number."""

    role: str
    initials: str
    nhs: str


@dataclass(frozen=True)
class ServiceBlock:
    """One service a finding rests on, as one recipient may see it."""

    service: str
    name: str
    team: str
    contact: str
    own: bool
    record_ids: list[str]
    facts: list[str]


@dataclass(frozen=True)
class FindingView:
    """Everything one recipient may be shown about one finding (no more)."""

    reference: str
    rule: str
    rule_label: str
    headline: str
    people: list[PersonLine]
    services: list[ServiceBlock]
    finding_facts: list[str]
    why_it_matters: str
    next_step: str
    lead: str
    also_sent_to: list[str]
    needs_confirmation: str
    respond: str
    respond_url: str
    first_seen: str
    facts_by_key: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for templates, stored displays and the case view): what ``asdict`` returns."""
        # Hand-written: ``dataclasses.asdict`` deep-copies every string and cost seconds a night at 100k.
        return {
            "reference": self.reference, "rule": self.rule, "rule_label": self.rule_label, "headline": self.headline,
            "people": [{"role": p.role, "initials": p.initials, "nhs": p.nhs} for p in self.people],
            "services": [{"service": b.service, "name": b.name, "team": b.team, "contact": b.contact, "own": b.own,
                          "record_ids": list(b.record_ids), "facts": list(b.facts)} for b in self.services],
            "finding_facts": list(self.finding_facts), "why_it_matters": self.why_it_matters,
            "next_step": self.next_step, "lead": self.lead, "also_sent_to": list(self.also_sent_to),
            "needs_confirmation": self.needs_confirmation, "respond": self.respond, "respond_url": self.respond_url,
            "first_seen": self.first_seen, "facts_by_key": dict(self.facts_by_key),
        }


class RecordIndex:
    """People records by ``source:record_id``: names (for initials only), NHS number, team, practice.

    Args:
        people: ``landing/people.parquet`` (any subset of :data:`PEOPLE_COLUMNS`), or None.
    """

    def __init__(self, people: pl.DataFrame | None) -> None:
        self._rows: dict[str, dict[str, Any]] = {}
        if people is None or people.is_empty():
            return
        cols = [c for c in PEOPLE_COLUMNS if c in people.columns]
        for row in people.select(cols).iter_rows(named=True):
            self._rows[f"{row['source']}:{row['record_id']}"] = row

    def person(self, role: str, refs: Iterable[str], nhs_visible: int) -> PersonLine:
        """The person behind a set of records as initials and a masked NHS number.

        Args:
            role: ``Child``, ``Adult`` or ``Parent``.
            refs: ``source:record_id`` strings.
            nhs_visible: trailing NHS-number digits shown.
        """
        found = [self._rows[r] for r in refs if r in self._rows]
        inits = Counter(initials(r.get("forename"), r.get("surname")) for r in found)
        numbers = Counter(r.get("nhs_number") for r in found if r.get("nhs_number"))
        shown = " / ".join(mask_nhs(n, nhs_visible) for n, _ in numbers.most_common()) or mask_nhs(None, nhs_visible)
        return PersonLine(role, inits.most_common(1)[0][0] if inits else "?.?.", shown)

    def team(self, ref: str) -> str | None:
        """The team or practice of a record (None when unknown).

        Args:
            ref: ``source:record_id``.
        """
        row = self._rows.get(ref)
        if row is None:
            return None
        value = row.get("team") or row.get("practice")
        return str(value) if value else None


def read_people(night_dir: Path) -> pl.DataFrame | None:
    """The columns of ``landing/people.parquet`` a view needs (None when the file is absent).

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.
    """
    path = night_dir / "landing" / "people.parquet"
    if not path.exists():
        return None
    frame = pl.read_parquet(path)
    return frame.select([c for c in PEOPLE_COLUMNS if c in frame.columns])


def _refs(value: Any) -> list[str]:
    return [str(v) for v in (value or []) if v]


class NeedToKnow:
    """Builds need-to-know views of findings.

    Args:
        sharing: the sharing matrix.
        leads: the leads configuration (contacts, roles, presentation).
        index: the night's people records.
        case_view_url: the case view's base URL (``SAFELINK_CASE_VIEW_URL``), or empty.
    """

    def __init__(self, sharing: SharingConfig, leads: LeadsConfig, index: RecordIndex, case_view_url: str = "") -> None:
        self.sharing = sharing
        self.leads = leads
        self.index = index
        self.case_view_url = case_view_url.rstrip("/")
        # answers that depend on the configuration alone, asked once per finding and recipient: kept per night
        self._labels: dict[str, str] | None = None
        self._entries: dict[tuple[str, frozenset[str]], ShareEntry] = {}
        self._contacts: dict[tuple[str, tuple[str, ...]], str] = {}
        self._routed: dict[tuple[str, ...], list[Recipient]] = {}
        self._finding: tuple[Mapping[str, Any], FindingFacts, list[PersonLine],
                             dict[tuple[str, ...], Recipient | None]] | None = None

    @classmethod
    def load(cls, config_dir: Path, night_dir: Path | None = None, case_view_url: str | None = None) -> NeedToKnow:
        """Load the configuration (and the night's people records, when a night is given).

        Args:
            config_dir: the configuration folder (``sharing.yaml``, ``leads.yaml``).
            night_dir: ``<output>/<YYYY-MM-DD>`` for initials, NHS numbers and teams; None for none.
            case_view_url: the case view's base URL (default: ``SAFELINK_CASE_VIEW_URL``).
        """
        if case_view_url is None:
            from ground.settings import load_settings

            case_view_url = load_settings().case_view_url
        people = read_people(night_dir) if night_dir is not None else None
        return cls(load_sharing(config_dir), load_leads(config_dir), RecordIndex(people), case_view_url)

    def rule_labels(self) -> dict[str, str]:
        """Readable rule names: each rule module's LABEL, unless the matrix gives one."""
        if self._labels is None:
            self._labels = RULE_LABELS | {name: rule.label for name, rule in self.sharing.rules.items() if rule.label}
        return dict(self._labels)

    def recipients_of(self, finding: Mapping[str, Any]) -> list[Recipient]:
        """The leads (and the designated professionals) a finding is routed to, as recipients (sorted by key).

        Args:
            finding: a ``findings.parquet`` row.
        """
        routes = tuple(finding.get("routes") or ())
        if routes not in self._routed:
            self._routed[routes] = [self.recipient(k) for k in sorted(route_finding(list(routes), self.leads))]
        return list(self._routed[routes])

    def recipient(self, key: str) -> Recipient:
        """A recipient by its key (a lead key, or ``designated``).

        Args:
            key: the key.
        """
        if key == DESIGNATED_KEY:
            return designated_recipient(self.leads)
        return lead_recipient(key, self.leads.leads[key])

    def view(self, finding: Mapping[str, Any], recipient: Recipient,
             recipients: Sequence[Recipient] | None = None) -> FindingView:
        """What ``recipient`` may be shown of ``finding``.

        Args:
            finding: a ``findings.parquet`` row (``finding_id``, ``rule``, ``evidence``, ``child_records``,
                ``adult_records``, ``routes``, ``needs_confirmation``, ``link_confidence``, ``first_seen``).
            recipient: who reads it.
            recipients: everyone the finding goes to (default: the leads it is routed to, plus ``recipient``).
        """
        rule = str(finding.get("rule") or "")
        sharing = self.sharing.rule(rule)
        everyone = list(recipients) if recipients is not None else self.recipients_of(finding)
        if recipient.key not in {r.key for r in everyone}:
            everyone.append(recipient)
        facts, people, owners = self._per_finding(finding, rule)
        entry = self._entries.get((rule, recipient.kinds))
        if entry is None:
            entry = self._entries[(rule, recipient.kinds)] = self.sharing.entries_for(rule, recipient.kinds)
        services, general, by_key = self._blocks(finding, facts, recipient, entry)
        confirm = ""
        if finding.get("needs_confirmation"):
            confirm = (f"Check first: the records behind this finding were matched with "
                       f"{confidence_label(finding.get('link_confidence'))} confidence. Confirm they are the same "
                       "person before acting on it.")
        reference = str(finding.get("finding_id") or "")
        url = self.sharing.respond.case_view_path.format(reference=reference)
        first_seen = finding.get("first_seen")
        keys = tuple(r.key for r in everyone)
        if keys not in owners:
            owners[keys] = self.owner(finding, rule, everyone)
        owner = owners[keys]
        return FindingView(
            reference=reference, rule=rule, rule_label=self.rule_labels().get(rule, rule), headline=facts.headline,
            people=people, services=services, finding_facts=general,
            why_it_matters=sharing.why_it_matters, next_step=self.sharing.next_step(rule, recipient.kinds),
            lead=self._lead_line(owner, recipient),
            also_sent_to=self._also_sent_to(recipient, everyone, {b.service for b in services}),
            needs_confirmation=confirm,
            respond=(self.sharing.respond.lead_instructions if owner is not None and owner.key == recipient.key
                     else self.sharing.respond.instructions),
            respond_url=f"{self.case_view_url}{url}" if self.case_view_url else "",
            first_seen=long_date(first_seen) if isinstance(first_seen, dt.date) else "",
            facts_by_key=by_key,
        )

    def _per_finding(self, finding: Mapping[str, Any],
                     rule: str) -> tuple[FindingFacts, list[PersonLine], dict[tuple[str, ...], Recipient | None]]:
        """What a finding's views share whoever reads them (its facts, its people, its owner by recipients): worked
        out once for the finding the views are being built for (one finding's views are built one after another)."""
        if self._finding is None or self._finding[0] is not finding:
            self._finding = (finding, finding_facts(finding, self.rule_labels()), self._people(finding, rule), {})
        return self._finding[1], self._finding[2], self._finding[3]

    def _people(self, finding: Mapping[str, Any], rule: str) -> list[PersonLine]:
        visible = self.leads.presentation.nhs_visible_digits
        people = []
        child, adult = _refs(finding.get("child_records")), _refs(finding.get("adult_records"))
        if adult:
            people.append(self.index.person(ADULT_ROLES.get(rule, "Adult"), adult, visible))
        if child:
            people.insert(0, self.index.person("Child", child, visible))
        return people

    def _blocks(self, finding: Mapping[str, Any], facts: FindingFacts, recipient: Recipient,
                entry: Any) -> tuple[list[ServiceBlock], list[str], dict[str, str]]:
        own_services = recipient.kinds
        shown: dict[str, list[Fact]] = {}
        general: list[str] = []
        by_key: dict[str, str] = {}
        for fact in facts.facts:
            own = fact.service in own_services
            if not entry.allows(fact.kind, fact.service, own):
                continue
            text = fact.told_to(own)
            if not text:
                continue
            if fact.service is None:
                general.append(text)
            else:
                shown.setdefault(fact.service, []).append(fact)
            key = fact.key
            by_key[key] = f"{by_key[key]} {text}" if key in by_key else text
        all_refs = _refs(finding.get("child_records")) + _refs(finding.get("adult_records"))
        show_ids = self.leads.presentation.show_record_ids and entry.allows("record_ids", "", True)
        own_ids = {s: sorted({r.split(":", 1)[1] for r in all_refs if r.startswith(f"{s}:")})
                   for s in sorted(own_services)} if show_ids else {}
        order = [s for s in shown] + [s for s, ids in own_ids.items() if ids and s not in shown]
        blocks = []
        for service in order:
            service_facts = shown.get(service, [])
            refs = [r for f in service_facts for r in f.records] or [
                r for r in all_refs if r.startswith(f"{service}:")]
            blocks.append(self._block(service, refs, service in own_services, own_ids.get(service, []),
                                      [f.told_to(service in own_services) for f in service_facts]))
        return blocks, general, by_key

    def _block(self, service: str, refs: Sequence[str], own: bool, record_ids: list[str],
               texts: list[str]) -> ServiceBlock:
        info = self.sharing.services.get(service)
        teams = sorted({t for t in (self.index.team(r) for r in refs) if t})
        team = ""
        if teams and (own or info is None or info.show_team_to_others):
            label = info.team_label if info else "team"
            names = info.names if info else {}
            team = f"{label} " + ", ".join(names.get(t, t) for t in teams)
        contact = "" if own else self._contact(service, teams)
        return ServiceBlock(service=service, name=self.sharing.service_name(service), team=team, contact=contact,
                            own=own, record_ids=record_ids, facts=[t for t in texts if t])

    def _contact(self, service: str, teams: Sequence[str]) -> str:
        key = (service, tuple(teams))
        if key not in self._contacts:
            self._contacts[key] = self._contact_line(service, teams)
        return self._contacts[key]

    def _contact_line(self, service: str, teams: Sequence[str]) -> str:
        kind = self.leads.route_kind(service)
        routes = [f"{service}:{kind}:{t}" for t in teams] or [f"{service}:{kind}:unknown"]
        keys = sorted(route_finding(routes, self.leads))
        if not keys:
            return "no safeguarding lead configured for it: ask the designated professionals"
        return "; ".join(f"{self.leads.leads[k].name} ({self.leads.leads[k].email})" for k in keys)

    @staticmethod
    def _lead_line(owner: Recipient | None, recipient: Recipient) -> str:
        if owner is None:
            return "the designated professionals (no lead covers this finding)"
        you = " - that is you" if owner.key == recipient.key else ""
        return f"{owner.name} ({owner.email}){you}"

    def _also_sent_to(self, recipient: Recipient, everyone: Sequence[Recipient], visible: set[str]) -> list[str]:
        """The other recipients' roles; a recipient whose services this reader may not see is counted, not named.

        Naming, say, the substance misuse lead to a mental health lead would share the very involvement the
        sharing matrix holds back: a lead whose only services are sensitive (``involvement_sensitive``) and
        not shown to this reader is counted instead.
        """
        named: list[str] = []
        hidden = 0
        for other in everyone:
            if other.key == recipient.key:
                continue
            hidden_services = {s for s in other.kinds - visible - recipient.kinds
                               if (info := self.sharing.services.get(s)) is not None and info.involvement_sensitive}
            if other.designated or not hidden_services or other.kinds & (visible | recipient.kinds):
                named.append(other.role)
            else:
                hidden += 1
        if hidden:
            named.append(f"{hidden} other safeguarding lead{'s' if hidden > 1 else ''} in a service whose involvement "
                         "is not shared with you")
        return named

    def owner(self, finding: Mapping[str, Any], rule: str, everyone: Sequence[Recipient]) -> Recipient | None:
        """The one lead who owns a finding: the first service in the rule's ``lead_order`` it is routed to.

        Args:
            finding: a ``findings.parquet`` row.
            rule: the rule name.
            everyone: the finding's recipients.
        """
        by_key = {r.key: r for r in everyone}
        routes = [r for r in (finding.get("routes") or []) if parse_route(str(r))]
        for service in self.sharing.rule(rule).lead_order:
            if service == DESIGNATED:
                if DESIGNATED_KEY in by_key:
                    return by_key[DESIGNATED_KEY]
                continue
            covering = route_finding([r for r in routes if str(r).startswith(f"{service}:")], self.leads)
            chosen = sorted(k for k in covering if k in by_key)
            if chosen:
                return by_key[chosen[0]]
        leads = sorted(k for k in by_key if k != DESIGNATED_KEY)
        return by_key[leads[0]] if leads else by_key.get(DESIGNATED_KEY)


def what_changed(before: Mapping[str, str] | None, now: Mapping[str, str], service_names: Mapping[str, str],
                 confirmation_before: bool | None = None, confirmation_now: bool = False) -> list[str]:
    """Plain-English lines saying what changed in the facts a recipient can see.

    Args:
        before: the recipient's facts by key at the last digest (None when not kept).
        now: the recipient's facts by key tonight.
        service_names: readable service names by key.
        confirmation_before: whether the finding needed confirmation before (None when not kept).
        confirmation_now: whether it needs confirmation now.
    """
    if before is None:
        return ["The evidence behind this finding changed (the earlier details were not kept)."]
    lines: list[str] = []

    def where(key: str) -> str:
        service = key.split(":", 1)[1] if ":" in key else ""
        return f"{service_names.get(service, service)}: " if service else ""

    for key in sorted(set(before) | set(now)):
        old, new = before.get(key), now.get(key)
        if old == new:
            continue
        if old is None:
            lines.append(f"New - {where(key)}{new}")
        elif new is None:
            lines.append(f"No longer - {where(key)}{old}")
        else:
            lines.append(f"{where(key)}now: {new} (before: {old})")
    if confirmation_before is not None and confirmation_before != confirmation_now:
        lines.append("The records now need confirming before acting." if confirmation_now
                     else "The records behind this finding no longer need confirming.")
    return lines or ["Details held by another service changed; nothing shared with you changed."]
