"""Report's tables in the shared state database (registered on ``safelink.state.Base``).

- ``report_nightly_metrics``: one row of counts per extract date (no person data), for the trends.
- ``review_decisions``: the clerical reviewers' decisions, append-only; the latest row of a pair wins.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from safelink.state import Base


class ReportNightlyMetrics(Base):
    """Counts of one night, written by ``build_report`` (a re-run of the night replaces its row)."""

    __tablename__ = "report_nightly_metrics"

    extract_date: Mapped[date] = mapped_column(Date, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sources_present: Mapped[int] = mapped_column(Integer, default=0)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    records: Mapped[int] = mapped_column(Integer, default=0)
    persons: Mapped[int] = mapped_column(Integer, default=0)
    links: Mapped[int] = mapped_column(Integer, default=0)
    review_pairs: Mapped[int] = mapped_column(Integer, default=0)
    link_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    findings: Mapped[int] = mapped_column(Integer, default=0)
    findings_by_rule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    precision: Mapped[float | None] = mapped_column(Float, nullable=True)
    recall: Mapped[float | None] = mapped_column(Float, nullable=True)


class ReviewDecision(Base):
    """One reviewer decision on one candidate pair (append-only: never updated or deleted)."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pair_key: Mapped[str] = mapped_column(String(32), index=True)
    source_l: Mapped[str] = mapped_column(String(16))
    record_id_l: Mapped[str] = mapped_column(String(64))
    source_r: Mapped[str] = mapped_column(String(16))
    record_id_r: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # match | no_match | unsure
    reviewer: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    weight: Mapped[float | None] = mapped_column(Float, nullable=True)
    match_probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    extract_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # the night the pair was exported
    source_file: Mapped[str] = mapped_column(String(255), default="")
