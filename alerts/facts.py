"""What each rule's finding rests on, as plain-English facts per service (the rules' presentation hooks).

A rule's evidence (``findings.parquet`` column ``evidence``) names records, rows and raw values. The
functions here turn it into :class:`Fact` objects: one plain sentence each, about one service (or the
finding as a whole), in two wordings: as told to another service (``text``) and as told to the service
that holds the record (``own_text``). Which facts reach which recipient is decided by the sharing matrix
(:mod:`alerts.sharing`), never here.

Nothing here produces an appointment time, a clinical or outcome code, a file name, a row number or a
free-text field: those are not facts any recipient is told.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Facts only the service holding the record may see (enforced by alerts.sharing).
OWN_ONLY_FACTS = frozenset({"record_ids", "missed_dates"})
GENERIC_FACTS = frozenset({"record_ids"})
RULE_FACTS: dict[str, frozenset[str]] = {
    "repeated_non_attendance": GENERIC_FACTS | {"missed_count", "missed_dates", "protection_flag"},
    "significant_adult": GENERIC_FACTS | {"child_open", "adult_known", "link", "not_on_related_people"},
    "dual_service_parent": GENERIC_FACTS | {"adult_open", "parent", "not_shared", "child_service"},
    "unshared_involvement": GENERIC_FACTS | {"child_open", "not_shared"},
    "cumulative_concern": GENERIC_FACTS | {"rules_found", "child_service"},
}


@dataclass(frozen=True)
class Fact:
    """One thing a finding rests on.

    Attributes:
        kind: the fact's name in the sharing matrix (``missed_count``, ``not_shared`` ...).
        service: the source key the fact is about; None for the finding as a whole.
        text: the sentence for a reader in another service.
        own_text: the sentence for the service holding the record (defaults to ``text``).
        records: ``source:record_id`` of the records the fact comes from (to find their team, never shown
            to another service).
    """

    kind: str
    service: str | None
    text: str
    own_text: str = ""
    records: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """A stable identity for comparing one night's facts with another's."""
        return f"{self.kind}:{self.service or ''}"

    def told_to(self, own: bool) -> str:
        """The sentence for the service holding the record (``own``) or another service.

        Args:
            own: whether the reader works in the service the fact is about.
        """
        return (self.own_text or self.text) if own else self.text


@dataclass(frozen=True)
class FindingFacts:
    """A finding as facts: a headline every recipient may read, and the facts per service."""

    headline: str
    facts: list[Fact] = field(default_factory=list)


def parse_evidence(evidence: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The evidence JSON as a dict (empty when absent or unreadable).

    Args:
        evidence: the JSON text or an already parsed mapping.
    """
    if evidence is None:
        return {}
    if isinstance(evidence, Mapping):
        return dict(evidence)
    try:
        parsed = json.loads(evidence)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def long_date(day: dt.date) -> str:
    """``14 April 2026`` (no leading zero; never a time of day).

    Args:
        day: the date.
    """
    return f"{day.day} {day:%B %Y}"


def period(days: Sequence[dt.date]) -> str:
    """A span of dates to the month: ``in April 2026`` or ``between December 2025 and August 2026``.

    Args:
        days: the dates (at least one).
    """
    first, last = min(days), max(days)
    if (first.year, first.month) == (last.year, last.month):
        return f"in {first:%B %Y}"
    return f"between {first:%B %Y} and {last:%B %Y}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _ref(item: Mapping[str, Any]) -> tuple[str, ...]:
    source, record = item.get("source"), item.get("record_id")
    return (f"{source}:{record}",) if source and record else ()


def repeated_non_attendance(evidence: Mapping[str, Any]) -> FindingFacts:
    """Missed appointments per service (count and months to others; dates to the service itself).

    Args:
        evidence: the rule's evidence.
    """
    by_service: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in evidence.get("missed_appointments") or []:
        if isinstance(item, Mapping) and _date(item.get("date")) and item.get("source"):
            by_service[str(item["source"])].append(item)
    facts: list[Fact] = []
    all_days: list[dt.date] = []
    for service, items in by_service.items():
        days = sorted(d for d in (_date(i.get("date")) for i in items) if d)
        all_days += days
        refs = tuple(sorted({r for i in items for r in _ref(i)}))
        count = f"{_plural(len(days), 'missed appointment')} {period(days)}"
        facts.append(Fact("missed_count", service, f"{count}.", records=refs))
        listed = "; ".join(
            long_date(d) + (f" ({i['type']})" if isinstance(i.get("type"), str) and i["type"] else "")
            for d, i in sorted(((_date(i.get("date")), i) for i in items), key=lambda p: p[0] or dt.date.min)
            if d
        )
        facts.append(Fact("missed_dates", service, "", own_text=f"Missed on: {listed}.", records=refs))
    if evidence.get("lower_threshold_applied"):
        for item in evidence.get("flagged_records") or []:
            if not isinstance(item, Mapping) or not item.get("source"):
                continue
            status = [label for key, label in (("child_protection_plan", "on a child protection plan"),
                                               ("looked_after", "looked after")) if item.get(key)]
            if status:
                text = (f"Records that the child is {' and '.join(status)}, so the lower threshold for such "
                        "children applies (fewer missed appointments are enough).")
                facts.append(Fact("protection_flag", str(item["source"]), text, records=_ref(item)))
    n_missed = int(evidence.get("n_missed") or len(all_days))
    n_sources = int(evidence.get("n_sources") or len(by_service))
    when = f" {period(all_days)}" if all_days else ""
    headline = (f"The child was not brought to (or did not attend) {_plural(n_missed, 'appointment')} "
                f"at {_plural(n_sources, 'service')}{when}.")
    return FindingFacts(headline, facts)


def significant_adult(evidence: Mapping[str, Any]) -> FindingFacts:
    """The child's services, the adult's services, how they are linked, and the missing related person.

    Args:
        evidence: the rule's evidence.
    """
    facts: list[Fact] = []
    child_services: dict[str, list[str]] = defaultdict(list)
    for item in evidence.get("child_service_records") or []:
        if isinstance(item, Mapping) and item.get("source"):
            child_services[str(item["source"])] += _ref(item)
    for service, refs in child_services.items():
        facts.append(Fact("child_open", service, "The child is open to this service.",
                          own_text="The child is open to your service.", records=tuple(refs)))
    for item in evidence.get("adult_service_records") or []:
        if not isinstance(item, Mapping) or not item.get("source"):
            continue
        state = "an open" if item.get("is_open") else "a closed"
        facts.append(Fact("adult_known", str(item["source"]), f"The adult has {state} record with this service.",
                          own_text=f"The adult has {state} record with your service.", records=_ref(item)))
    for item in evidence.get("links") or []:
        if not isinstance(item, Mapping) or not item.get("source"):
            continue
        if item.get("via") == "gp_address":
            text = "The adult and the child are registered with a GP at the same address."
            own = "The adult and the child are registered with your practice at the same address."
        else:
            text = "The adult named the child as one of their children on this service's record."
            own = "The adult named the child as one of their children on your record."
        facts.append(Fact("link", str(item["source"]), text, own_text=own, records=_ref(item)))
    checked: dict[str, int] = defaultdict(int)
    for item in evidence.get("related_people_rows_checked") or []:
        if isinstance(item, Mapping) and item.get("source"):
            checked[str(item["source"])] += 1
    for service, refs in child_services.items():
        n = checked.get(service, 0)
        facts.append(Fact(
            "not_on_related_people", service,
            "The adult is not on this service's record of the child's related people.",
            own_text=("The adult is not on your record of the child's related people "
                      f"({_plural(n, 'related person', 'related people')} recorded, none of them this adult)."),
            records=tuple(refs)))
    headline = ("An adult known to adult services is linked to this child but is not recorded among the people "
                "around the child on the child's health visiting or school nursing record.")
    return FindingFacts(headline, facts)


_PARENT_TEXT = {
    "tp": ("This service's record says the adult is a parent.", "Your record says the adult is a parent ({value})."),
    "amh": ("This service's record says the adult has dependent children.",
            "Your record says the adult has dependent children."),
}
_NOT_SHARED_DSP = {
    "tp": ("This service's record does not list mental health services.",
           "Your record does not list mental health services among the other services known to the client."),
    "amh": ("This service's record does not show that a substance misuse service is involved.",
            "Your record does not show substance misuse service involvement (recorded as: {value})."),
}


def _dsp_side(side: Mapping[str, Any], facts: dict[str, Fact]) -> None:
    service = str(side.get("source") or "")
    if not service:
        return
    refs = _ref(side)
    facts.setdefault(f"adult_open:{service}", Fact(
        "adult_open", service, "The parent is open to this service.", own_text="The parent is open to your service.",
        records=refs))
    value = side.get("parental_status") if service == "tp" else side.get("has_dependent_children")
    is_parent = (isinstance(value, str) and value.strip().lower().startswith("parent")) if service == "tp" else (
        isinstance(value, str) and value.strip().lower() == "yes")
    if is_parent and service in _PARENT_TEXT:
        text, own = _PARENT_TEXT[service]
        facts.setdefault(f"parent:{service}", Fact("parent", service, text, own_text=own.format(value=value),
                                                   records=refs))
    names_other = side.get("names_service_b") if service == "tp" else side.get("names_service_a")
    if names_other is False and service in _NOT_SHARED_DSP:
        text, own = _NOT_SHARED_DSP[service]
        shown = side.get("substance_service_involved") or "blank"
        facts.setdefault(f"not_shared:{service}", Fact("not_shared", service, text,
                                                       own_text=own.format(value=shown), records=refs))


def dual_service_parent(evidence: Mapping[str, Any], child_records: Sequence[str] = ()) -> FindingFacts:
    """Both adult services, that the adult is a parent, what each record does not show, the child's services.

    Args:
        evidence: the rule's evidence.
        child_records: the named child's records (``source:record_id``), for the child's own services.
    """
    facts: dict[str, Fact] = {}
    for pair in evidence.get("open_record_pairs") or []:
        if isinstance(pair, Mapping):
            for side in (pair.get("service_a"), pair.get("service_b")):
                if isinstance(side, Mapping):
                    _dsp_side(side, facts)
    for item in evidence.get("named_children_rows") or []:
        if isinstance(item, Mapping) and item.get("source"):
            service = str(item["source"])
            facts.setdefault(f"named:{service}", Fact(
                "parent", service, "The adult named a child on this service's record.",
                own_text="The adult named a child on your record.", records=_ref(item)))
    for service in ("hv", "sn"):
        refs = tuple(r for r in child_records if r.startswith(f"{service}:"))
        if refs:
            facts.setdefault(f"child_service:{service}", Fact(
                "child_service", service, "The parent's child is open to this service.",
                own_text="The parent's child is open to your service.", records=refs))
    headline = ("A parent is open to both a substance misuse service and an adult mental health service, and "
                "the two records do not show each other.")
    return FindingFacts(headline, list(facts.values()))


_SERVICE_WORDS = {"hv": "health visiting", "sn": "school nursing", "camhs": "CAMHS"}


def unshared_involvement(evidence: Mapping[str, Any]) -> FindingFacts:
    """CAMHS and the school nursing or health visiting service, and what each record does not list.

    Args:
        evidence: the rule's evidence.
    """
    facts: dict[str, Fact] = {}
    for pair in evidence.get("open_record_pairs") or []:
        if not isinstance(pair, Mapping):
            continue
        camhs, other = pair.get("camhs"), pair.get("service")
        if not isinstance(camhs, Mapping) or not isinstance(other, Mapping) or not other.get("source"):
            continue
        service = str(other["source"])
        word = _SERVICE_WORDS.get(service, service)
        facts.setdefault("child_open:camhs", Fact("child_open", "camhs", "The child has an open referral here.",
                                                  own_text="The child has an open referral with your service.",
                                                  records=_ref(camhs)))
        facts.setdefault(f"child_open:{service}", Fact("child_open", service, "The child is on this caseload.",
                                                       own_text="The child is on your caseload.",
                                                       records=_ref(other)))
        if camhs.get("camhs_names_service") is False:
            facts.setdefault(f"not_shared:camhs:{service}", Fact(
                "not_shared", "camhs", f"This service's record does not list {word}.",
                own_text=f"Your record does not list {word} among the professionals known to the child.",
                records=_ref(camhs)))
        if other.get("service_names_camhs") is False:
            facts.setdefault(f"not_shared:{service}", Fact(
                "not_shared", service, "This service's record does not list CAMHS.",
                own_text="Your record does not list CAMHS among the other services involved.",
                records=_ref(other)))
    headline = ("This child is open to CAMHS and to school nursing or health visiting, and the two records "
                "do not show each other.")
    return FindingFacts(headline, list(facts.values()))


def cumulative_concern(evidence: Mapping[str, Any], rule_labels: Mapping[str, str],
                       child_records: Sequence[str] = ()) -> FindingFacts:
    """Which rules named the child tonight, and the child's services.

    Args:
        evidence: the rule's evidence: a list of the contributing findings (``rule`` each).
        rule_labels: readable rule names.
        child_records: the child's records, for the child's own services.
    """
    rules: list[str] = []
    for value in evidence.values():
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping) and isinstance(item.get("rule"), str) and item["rule"] not in rules:
                    rules.append(item["rule"])
    labels = [rule_labels.get(r, r.replace("_", " ")) for r in rules]
    facts = [Fact("rules_found", None, "Tonight's findings about this child: " + "; ".join(labels) + ".")] if labels \
        else []
    services = sorted({r.split(":", 1)[0] for r in child_records if ":" in r})
    for service in services:
        refs = tuple(r for r in child_records if r.startswith(f"{service}:"))
        facts.append(Fact("child_service", service, "The child is known to this service.",
                          own_text="The child is known to your service.", records=refs))
    count = len(rules) if rules else 2
    headline = f"This child is named tonight by findings of {count} different safeguarding rules."
    return FindingFacts(headline, facts)


Builder = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, str]], FindingFacts]

FACT_BUILDERS: dict[str, Builder] = {
    "repeated_non_attendance": lambda ev, row, labels: repeated_non_attendance(ev),
    "significant_adult": lambda ev, row, labels: significant_adult(ev),
    "dual_service_parent": lambda ev, row, labels: dual_service_parent(ev, list(row.get("child_records") or [])),
    "unshared_involvement": lambda ev, row, labels: unshared_involvement(ev),
    "cumulative_concern": lambda ev, row, labels: cumulative_concern(ev, labels, list(row.get("child_records") or [])),
}


def finding_facts(finding: Mapping[str, Any], rule_labels: Mapping[str, str]) -> FindingFacts:
    """The facts of one finding row (``rule``, ``evidence``, ``child_records`` ...).

    A rule without a builder gets a headline naming the rule and no service facts: its recipients see
    their own record ids and nothing else until the rule presents itself.

    Args:
        finding: a ``findings.parquet`` row.
        rule_labels: readable rule names.
    """
    rule = str(finding.get("rule") or "")
    evidence = parse_evidence(finding.get("evidence"))
    builder = FACT_BUILDERS.get(rule)
    if builder is None:
        return FindingFacts(f"A finding of the rule '{rule_labels.get(rule, rule)}'.")
    return builder(evidence, finding, rule_labels)
