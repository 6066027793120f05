"""The alerts ledger in the state database (registered on the shared :class:`ground.state.Base`).

- ``alerts_night``: one row per night whose digests were built (the idempotency anchor).
- ``alerts_finding``: every finding ever seen: first/last seen, last fingerprint, still present.
- ``alerts_lead_finding``: per lead and finding, the fingerprint last sent and whether it is closed
  (reported "no longer found").
- ``alerts_message``: the outbox: every digest, summary and failure notice built, with its status
  (``queued`` → ``sending`` → ``sent``, or ``written`` to an ``.eml`` file), attempts and last error.
- ``alerts_audit``: append-only trail of what was queued, sent, written or failed, to whom, when, why.
- ``alerts_response``: append-only responses of leads and designated professionals to findings.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from ground.state import Base


def utcnow() -> dt.datetime:
    """Timezone-aware now (UTC)."""
    return dt.datetime.now(dt.UTC)


class AlertNight(Base):
    """A night whose digests have been built (built once; reruns only deliver what is queued)."""

    __tablename__ = "alerts_night"

    night: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    built_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class AlertFinding(Base):
    """One finding as the alerts stage has seen it across nights."""

    __tablename__ = "alerts_finding"

    finding_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[dt.date] = mapped_column(Date)
    last_seen: Mapped[dt.date] = mapped_column(Date)
    fingerprint: Mapped[str] = mapped_column(String(128))
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    gone_night: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # Masked presentation (initials, masked NHS number, record ids) for the "no longer found" entry.
    display: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class AlertLeadFinding(Base):
    """What a lead has been told about a finding."""

    __tablename__ = "alerts_lead_finding"

    lead_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    finding_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    fingerprint_sent: Mapped[str] = mapped_column(String(128))
    first_sent_night: Mapped[dt.date] = mapped_column(Date)
    last_sent_night: Mapped[dt.date] = mapped_column(Date)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_night: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class AlertMessage(Base):
    """One e-mail in the outbox: built once per (recipient key, night, kind), delivered exactly once."""

    __tablename__ = "alerts_message"
    __table_args__ = (UniqueConstraint("recipient_key", "night", "kind", name="uq_alerts_message_key_night_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient_key: Mapped[str] = mapped_column(String(128))
    night: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # digest | summary | failure
    recipient: Mapped[str] = mapped_column(String(320))
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # the full RFC 5322 message (holds person data: state DB only)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | sending | sent | written
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


Index("ix_alerts_message_status", AlertMessage.status)


class AlertAudit(Base):
    """Append-only trail: one row per event (never updated or deleted)."""

    __tablename__ = "alerts_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    night: Mapped[dt.date] = mapped_column(Date)
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("alerts_message.id"), nullable=True)
    recipient_key: Mapped[str] = mapped_column(String(128))
    recipient: Mapped[str] = mapped_column(String(320))
    event: Mapped[str] = mapped_column(String(16))  # queued | sent | written | failed | closed
    finding_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    change: Mapped[str | None] = mapped_column(String(24), nullable=True)  # new | updated | no_longer_found | moved
    reason: Mapped[str] = mapped_column(String(200), default="")


@event.listens_for(AlertAudit, "before_update")
@event.listens_for(AlertAudit, "before_delete")
def _append_only(_mapper: Mapper[AlertAudit], _connection: object, _target: AlertAudit) -> None:
    raise RuntimeError("alerts_audit is append-only")


class AlertResponse(Base):
    """A recipient's response to a finding (append-only): what they did about it, and on which evidence.

    Written by the case view; read back by the digests (``not_a_concern`` stops re-alerting until the
    finding's fingerprint changes) and by the nightly report (precision per rule and confidence band).
    """

    __tablename__ = "alerts_response"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finding_id: Mapped[str] = mapped_column(String(128), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    night: Mapped[dt.date] = mapped_column(Date)  # the night whose finding was answered
    fingerprint: Mapped[str] = mapped_column(String(128))  # the finding's fingerprint when answered
    link_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    responder: Mapped[str] = mapped_column(String(320))  # the account's e-mail address
    responder_role: Mapped[str] = mapped_column(String(16))  # lead | designated
    lead_key: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the lead answering, if a lead
    disposition: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


@event.listens_for(AlertResponse, "before_update")
@event.listens_for(AlertResponse, "before_delete")
def _responses_append_only(_mapper: Mapper[AlertResponse], _connection: object, _target: AlertResponse) -> None:
    raise RuntimeError("alerts_response is append-only")
