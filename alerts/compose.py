"""Composing digests from need-to-know views: one entry per finding, grouped by rule, text and HTML.

The text and HTML parts are rendered from the same entries by two templates; the text part is wrapped
for a mail client that shows only text.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from alerts.facts import long_date
from alerts.need_to_know import FindingView, NeedToKnow, Recipient, what_changed
from alerts.render import render
from alerts.rules.registry import RULE_NAMES

CHANGE_ORDER = ("new", "updated", "no_longer_found", "moved")
CHANGE_LABELS: dict[str, str] = {
    "new": "New",
    "updated": "Updated",
    "no_longer_found": "No longer found",
    "moved": "No longer routed to you",
}
CLOSED_TEXT = {
    "no_longer_found": ("Tonight's records no longer show what this finding rested on (a record may have been "
                        "updated, closed or corrected)."),
    "moved": "This finding is no longer routed to you: the team or practice holding the record changed.",
}
CLOSED_NEXT_STEP = ("No action is needed because of this message. If you were acting on this finding, record the "
                    "outcome against its reference.")


def finding_display(view: FindingView, recipients: Sequence[Recipient]) -> dict[str, Any]:
    """What the ledger keeps of a finding for later nights (people, recipients; no names or record ids).

    Args:
        view: any recipient's view of the finding (people lines are the same for all).
        recipients: everyone the finding went to tonight.
    """
    return {"rule_label": view.rule_label, "people": [asdict(p) for p in view.people],
            "recipients": [r.key for r in recipients], "recipient_roles": {r.key: r.role for r in recipients}}


def open_entry(view: FindingView, change: str, night: dt.date, before: Mapping[str, Any] | None,
               ntk: NeedToKnow, recipient: Recipient, needs_confirmation: bool) -> dict[str, Any]:
    """A digest entry for a new or updated finding.

    Args:
        view: the recipient's view of the finding.
        change: ``new`` or ``updated``.
        night: the extract date.
        before: the finding's stored display from the last night it was built (None for none).
        ntk: the view builder (service names).
        recipient: who reads it.
        needs_confirmation: whether the finding needs confirmation tonight.
    """
    entry = view.as_dict() | {"change": change, "change_label": CHANGE_LABELS[change], "what_changed": [],
                              "when_label": "found" if change == "new" else "updated", "when": long_date(night)}
    if change == "updated":
        facts = (before or {}).get("facts") or {}
        previous = facts.get(recipient.key) if isinstance(facts, Mapping) else None
        names = {s: info.name for s, info in ntk.sharing.services.items()}
        was = (before or {}).get("needs_confirmation")
        entry["what_changed"] = what_changed(previous, view.facts_by_key, names,
                                             None if was is None else bool(was), needs_confirmation)
    return entry


def closed_entry(reference: str, rule: str, change: str, display: Mapping[str, Any], recipient_key: str,
                 when: dt.date, ntk: NeedToKnow) -> dict[str, Any]:
    """A digest entry for a finding no longer found, or no longer routed to the recipient.

    Args:
        reference: the finding id.
        rule: the rule name.
        change: ``no_longer_found`` or ``moved``.
        display: the finding's stored display.
        recipient_key: the reader's key.
        when: the night it was last found / last routed to the reader.
        ntk: the view builder (rule labels).
    """
    roles = display.get("recipient_roles") or {}
    others = [str(role) for key, role in roles.items() if key != recipient_key] if isinstance(roles, Mapping) else []
    label = ntk.rule_labels().get(rule) or str(display.get("rule_label") or rule)
    return {
        "reference": reference, "rule": rule, "rule_label": label, "change": change,
        "change_label": CHANGE_LABELS[change], "headline": CLOSED_TEXT[change],
        "people": list(display.get("people") or []), "services": [], "finding_facts": [], "why_it_matters": "",
        "next_step": CLOSED_NEXT_STEP, "lead": "", "also_sent_to": others, "needs_confirmation": "",
        "respond": ntk.sharing.respond.instructions, "respond_url": "", "first_seen": "", "what_changed": [],
        "when_label": "last found" if change == "no_longer_found" else "last routed to you",
        "when": long_date(when),
    }


def _groups(items: list[dict[str, Any]], ntk: NeedToKnow) -> list[dict[str, Any]]:
    order = list(RULE_NAMES)
    rules = sorted({i["rule"] for i in items}, key=lambda r: (order.index(r) if r in order else len(order), r))
    groups = []
    for rule in rules:
        members = sorted((i for i in items if i["rule"] == rule),
                         key=lambda i: (CHANGE_ORDER.index(i["change"]), i["reference"]))
        groups.append({"rule": rule, "label": members[0]["rule_label"], "entries": members})
    return groups


def digest_subject(night: dt.date, counts: Mapping[str, int]) -> str:
    """The generic subject line: date and counts, never names, diagnoses or service names.

    Args:
        night: the extract date.
        counts: ``new``, ``updated``, ``no_longer_found``, ``moved``.
    """
    subject = f"Safeguarding linkage digest {night.isoformat()}: {counts['new']} new, {counts['updated']} updated"
    if counts.get("no_longer_found"):
        subject += f", {counts['no_longer_found']} no longer found"
    if counts.get("moved"):
        subject += f", {counts['moved']} moved"
    return subject


def render_digest(night: dt.date, recipient: Recipient, items: list[dict[str, Any]],
                  ntk: NeedToKnow) -> tuple[str, str, str]:
    """Render one recipient's digest.

    Args:
        night: the extract date.
        recipient: who reads it (name and role shown in the body only).
        items: the entries (:func:`open_entry`, :func:`closed_entry`).
        ntk: the view builder (rule order and labels).

    Returns:
        subject, plain text, HTML.
    """
    counts = Counter(i["change"] for i in items)
    full = {k: counts.get(k, 0) for k in CHANGE_ORDER}
    subject = digest_subject(night, full)
    context = {"subject": subject, "night": long_date(night), "lead_name": recipient.name,
               "lead_role": recipient.role, "counts": full, "groups": _groups(items, ntk),
               "case_view": bool(ntk.case_view_url)}
    return subject, render("digest.txt.j2", **context), render("digest.html.j2", **context)
