"""State tables of the rules stage: the findings history (declared on the shared :class:`ground.state.Base`).

``rules_finding`` holds one row per finding ever seen (first and last night); ``rules_finding_night``
one row per finding per night it was evaluated, with its status (new / updated / unchanged / closed /
held) and evidence fingerprint. Re-running a night replaces that night's rows, so runs are idempotent.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from ground.state import Base


class RuleFinding(Base):
    """One finding, identified across nights by its stable ``finding_id``."""

    __tablename__ = "rules_finding"

    finding_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    child_person_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    adult_person_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    first_seen: Mapped[dt.date] = mapped_column(Date)
    last_seen: Mapped[dt.date] = mapped_column(Date)


class RuleFindingNight(Base):
    """A finding's state on one night (including ``closed`` the night it disappeared)."""

    __tablename__ = "rules_finding_night"

    extract_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    finding_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    evidence_fingerprint: Mapped[str] = mapped_column(String(64))
    link_confidence: Mapped[float] = mapped_column(Float)
    needs_confirmation: Mapped[bool] = mapped_column(Boolean)
    sources: Mapped[str] = mapped_column(String(64), default="")
