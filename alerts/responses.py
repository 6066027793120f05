"""Responses to findings: what a lead or designated professional did about one, and what that changes.

A response is appended to ``alerts_response`` with the finding's fingerprint at the time. The digests
read the latest responses back: a ``not_a_concern`` stops the finding re-alerting the lead who gave it
(a designated professional's: every lead) until the fingerprint changes, that is until the evidence or
its need for confirmation changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from alerts.state_tables import AlertResponse, utcnow

DISPOSITIONS: dict[str, str] = {
    "acknowledged": "Acknowledged",
    "already_known": "Already known to us",
    "acted": "Acted on",
    "not_a_concern": "Not a concern",
    "wrong_link": "Wrong person (records wrongly linked)",
}
#: Responses that say the finding was about the right people and worth raising.
CONFIRMING = ("acknowledged", "already_known", "acted")
#: Responses that say it was not: a rule that fired wrongly, or records of different people joined.
REFUTING = ("not_a_concern", "wrong_link")
ALL_LEADS = "*"


def finding_fingerprint(row: Mapping[str, Any]) -> str:
    """A finding's fingerprint as a recipient sees it: its evidence and whether it needs confirmation.

    Args:
        row: a ``findings.parquet`` row (``evidence_fingerprint`` or ``evidence``, ``needs_confirmation``).
    """
    base = row.get("evidence_fingerprint") or hashlib.sha256(str(row.get("evidence") or "").encode()).hexdigest()
    return hashlib.sha256(f"{base}|{bool(row.get('needs_confirmation'))}".encode()).hexdigest()


@dataclass(frozen=True)
class Response:
    """One response as the case view shows it."""

    id: int
    at: dt.datetime
    finding_id: str
    night: dt.date
    fingerprint: str
    responder: str
    responder_role: str
    lead_key: str | None
    disposition: str
    note: str

    @property
    def label(self) -> str:
        """The disposition in words."""
        return DISPOSITIONS.get(self.disposition, self.disposition)


def record_response(engine: Engine, *, finding_id: str, rule: str, night: dt.date, fingerprint: str,
                    link_confidence: float | None, responder: str, responder_role: str, lead_key: str | None,
                    disposition: str, note: str) -> int:
    """Append one response; returns its id.

    Args:
        engine: the state database.
        finding_id: the finding answered.
        rule: its rule.
        night: the night whose finding was shown.
        fingerprint: the finding's fingerprint (:func:`finding_fingerprint`) as shown.
        link_confidence: the finding's link confidence as shown.
        responder: the account's e-mail address.
        responder_role: ``lead`` or ``designated``.
        lead_key: the lead's key in ``leads.yaml`` when a lead answers.
        disposition: one of :data:`DISPOSITIONS`.
        note: free text from the responder (kept in the state database only).

    Raises:
        ValueError: an unknown disposition.
    """
    if disposition not in DISPOSITIONS:
        raise ValueError(f"disposition must be one of {', '.join(DISPOSITIONS)}")
    with Session(engine) as session, session.begin():
        row = AlertResponse(at=utcnow(), finding_id=finding_id, rule=rule, night=night, fingerprint=fingerprint,
                            link_confidence=link_confidence, responder=responder, responder_role=responder_role,
                            lead_key=lead_key, disposition=disposition, note=note)
        session.add(row)
        session.flush()
        return int(row.id)


def responses(engine: Engine, finding_ids: list[str] | None = None) -> list[Response]:
    """Responses, oldest first (all of them, or those to the given findings).

    Args:
        engine: the state database.
        finding_ids: restrict to these findings.
    """
    query = select(AlertResponse).order_by(AlertResponse.id)
    if finding_ids is not None:
        query = query.where(AlertResponse.finding_id.in_(finding_ids))
    with Session(engine) as session:
        return [Response(id=r.id, at=r.at, finding_id=r.finding_id, night=r.night, fingerprint=r.fingerprint,
                         responder=r.responder, responder_role=r.responder_role, lead_key=r.lead_key,
                         disposition=r.disposition, note=r.note) for r in session.scalars(query)]


def suppressed(session: Session) -> set[tuple[str, str, str]]:
    """``(lead key or "*", finding_id, fingerprint)`` not to re-alert: a responder's latest word is ``not_a_concern``.

    Args:
        session: an open session on the state database.
    """
    latest: dict[tuple[str, str], AlertResponse] = {}
    for row in session.scalars(select(AlertResponse).order_by(AlertResponse.id)):
        latest[(row.finding_id, row.responder)] = row
    return {(r.lead_key if r.responder_role == "lead" and r.lead_key else ALL_LEADS, r.finding_id, r.fingerprint)
            for r in latest.values() if r.disposition == "not_a_concern"}


def is_suppressed(quiet: set[tuple[str, str, str]], lead_key: str, finding_id: str, fingerprint: str) -> bool:
    """Whether a finding should not be re-alerted to a lead.

    Args:
        quiet: from :func:`suppressed`.
        lead_key: the lead.
        finding_id: the finding.
        fingerprint: its fingerprint tonight.
    """
    return (lead_key, finding_id, fingerprint) in quiet or (ALL_LEADS, finding_id, fingerprint) in quiet
