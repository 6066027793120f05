"""Report's tables in the shared state database (registered on ``ground.state.Base``).

- ``report_nightly_metrics``: one row of counts per extract date (no person data), for the trends.

The clerical reviewers' decisions live with the linkage they steer (``linkage/review_decisions.py``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ground.state import Base


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
