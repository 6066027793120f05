"""The clerical reviewers' decisions on candidate pairs, and the standing instructions they give the linkage.

``review_decisions`` (state database) is append-only: the report's review loop (``report.review``)
records each decision; the latest one on a pair wins. :func:`review_overrides` turns the latest decisions
into ``force_link`` / ``force_split`` instructions for the next night's clustering.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Date, DateTime, Engine, Float, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ground.state import Base, open_state

OVERRIDE_OF = {"match": "force_link", "no_match": "force_split"}
OVERRIDE_SCHEMA: dict[str, Any] = {
    "source_l": pl.String, "record_id_l": pl.String, "source_r": pl.String, "record_id_r": pl.String,
    "decision": pl.String,
}


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


def pair_key(source_l: str, record_id_l: str, source_r: str, record_id_r: str) -> str:
    """A stable key for an unordered pair of records (the same whichever side each record is on).

    Args:
        source_l: source of one record.
        record_id_l: its record id.
        source_r: source of the other record.
        record_id_r: its record id.
    """
    a, b = sorted([(str(source_l), str(record_id_l)), (str(source_r), str(record_id_r))])
    raw = "\x1f".join([a[0], a[1], b[0], b[1]]).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:20]


def newest_decisions(session: Session) -> dict[str, ReviewDecision]:
    """The latest decision on each reviewed pair, by pair key.

    Args:
        session: an open session on the state database.
    """
    newest = select(ReviewDecision.pair_key, func.max(ReviewDecision.id).label("id")).group_by(
        ReviewDecision.pair_key).subquery()
    rows = session.scalars(select(ReviewDecision).join(newest, ReviewDecision.id == newest.c.id)).all()
    return {r.pair_key: r for r in rows}


def latest_decisions(state_url: str | None = None, engine: Engine | None = None) -> pl.DataFrame:
    """The latest decision on every reviewed pair.

    Args:
        state_url: the state database URL (ignored when ``engine`` is given).
        engine: an open engine.

    Returns:
        ``pair_key``, the four id columns, ``decision`` (match / no_match / unsure), ``reviewer``,
        ``decided_at``, ``weight``, ``match_probability``, ``history`` (decisions ever made on the pair).
    """
    own = engine is None
    eng = engine if engine is not None else open_state(str(state_url))
    try:
        with Session(eng) as session:
            latest = newest_decisions(session)
            counts = dict(session.execute(
                select(ReviewDecision.pair_key, func.count()).group_by(ReviewDecision.pair_key)).all())
    finally:
        if own:
            eng.dispose()
    schema: dict[str, Any] = {
        "pair_key": pl.String, **OVERRIDE_SCHEMA, "reviewer": pl.String,
        "decided_at": pl.Datetime("us", "UTC"), "weight": pl.Float64, "match_probability": pl.Float64,
        "history": pl.Int64,
    }
    rows = [
        {"pair_key": r.pair_key, "source_l": r.source_l, "record_id_l": r.record_id_l, "source_r": r.source_r,
         "record_id_r": r.record_id_r, "decision": r.decision, "reviewer": r.reviewer,
         "decided_at": r.decided_at if r.decided_at.tzinfo else r.decided_at.replace(tzinfo=UTC),
         "weight": r.weight, "match_probability": r.match_probability, "history": int(counts.get(k, 1))}
        for k, r in sorted(latest.items())
    ]
    return pl.DataFrame(rows, schema=schema)


def review_overrides(state_url: str) -> pl.DataFrame:
    """The reviewers' standing instructions for the linkage engine.

    One row per reviewed pair whose latest decision is ``match`` (``force_link``) or ``no match``
    (``force_split``); a later ``unsure`` withdraws an earlier instruction. The pair is unordered:
    ``(source_l, record_id_l)`` and ``(source_r, record_id_r)`` are as they were in the exported file.

    Args:
        state_url: the state database URL.

    Returns:
        ``source_l``, ``record_id_l``, ``source_r``, ``record_id_r``, ``decision`` (force_link | force_split).
    """
    latest = latest_decisions(state_url)
    return (
        latest.filter(pl.col("decision").is_in(list(OVERRIDE_OF)))
        .with_columns(pl.col("decision").replace_strict(OVERRIDE_OF, return_dtype=pl.String))
        .select(list(OVERRIDE_SCHEMA))
    )
