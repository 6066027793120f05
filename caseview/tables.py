"""The case view's tables in the shared state database (registered on ``ground.state.Base``).

- ``caseview_user``: accounts (e-mail, role, the lead they are, an argon2 password hash).
- ``caseview_session``: signed-in sessions, so that signing out ends a session on the server too.
- ``caseview_login_attempt``: every sign-in attempt, for throttling.
- ``caseview_audit``: append-only: who viewed which person's page or answered which finding, and when.
- ``caseview_review_request``: pairs put in the review queue by a ``wrong_link`` response.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from ground.state import Base


def utcnow() -> dt.datetime:
    """Timezone-aware now (UTC)."""
    return dt.datetime.now(dt.UTC)


class CaseViewUser(Base):
    """One account: ``lead`` (with the lead key it answers for), ``designated`` or ``engineer``."""

    __tablename__ = "caseview_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    lead_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255), default="")  # empty: single sign-on only
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseViewSession(Base):
    """A signed-in session (the cookie carries its id, signed)."""

    __tablename__ = "caseview_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("caseview_user.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CaseViewLoginAttempt(Base):
    """One sign-in attempt (the address as typed, lower-cased; the client address)."""

    __tablename__ = "caseview_login_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    email: Mapped[str] = mapped_column(String(320))
    client: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)


Index("ix_caseview_login_attempt_email_at", CaseViewLoginAttempt.email, CaseViewLoginAttempt.at)
Index("ix_caseview_login_attempt_client_at", CaseViewLoginAttempt.client, CaseViewLoginAttempt.at)


class CaseViewAudit(Base):
    """Append-only: one row per view of a person's page and per response or decision (never updated)."""

    __tablename__ = "caseview_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))  # view_finding | view_child | view_review | respond | ...
    target: Mapped[str] = mapped_column(String(128))  # finding id, person id, pair key
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok | denied
    detail: Mapped[str] = mapped_column(String(200), default="")


Index("ix_caseview_audit_target", CaseViewAudit.target)


@event.listens_for(CaseViewAudit, "before_update")
@event.listens_for(CaseViewAudit, "before_delete")
def _audit_append_only(_mapper: Mapper[CaseViewAudit], _connection: object, _target: CaseViewAudit) -> None:
    raise RuntimeError("caseview_audit is append-only")


class CaseViewReviewRequest(Base):
    """A pair of records put in the review queue because a finding built on it was answered ``wrong_link``."""

    __tablename__ = "caseview_review_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    pair_key: Mapped[str] = mapped_column(String(32), index=True)
    source_l: Mapped[str] = mapped_column(String(16))
    record_id_l: Mapped[str] = mapped_column(String(64))
    source_r: Mapped[str] = mapped_column(String(16))
    record_id_r: Mapped[str] = mapped_column(String(64))
    weight: Mapped[float | None] = mapped_column(Float, nullable=True)
    finding_id: Mapped[str] = mapped_column(String(128))
    requested_by: Mapped[str] = mapped_column(String(320))
