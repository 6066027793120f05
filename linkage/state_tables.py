"""Linkage's tables in the shared state database (registered on ``ground.state.Base``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ground.identifiers import RECORD_ID_MAX_LENGTH, SOURCE_KEY_MAX_LENGTH
from ground.state import Base


class LinkagePerson(Base):
    """One pipeline person identifier ever issued."""

    __tablename__ = "linkage_person"

    person_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | merged | unused
    merged_into: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_seen: Mapped[date | None] = mapped_column(Date, nullable=True)


class LinkageRecordPerson(Base):
    """The person a source record was last assigned to (kept when a source misses a night)."""

    __tablename__ = "linkage_record_person"

    source: Mapped[str] = mapped_column(String(SOURCE_KEY_MAX_LENGTH), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(RECORD_ID_MAX_LENGTH), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(16), index=True)
    first_seen: Mapped[date] = mapped_column(Date)
    last_seen: Mapped[date] = mapped_column(Date)


class LinkagePersonEvent(Base):
    """A merge or split of person identifiers on one night (ids only, no person data)."""

    __tablename__ = "linkage_person_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    extract_date: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(8))  # merge | split
    person_id: Mapped[str] = mapped_column(String(16))  # the surviving / original id
    other_person_id: Mapped[str] = mapped_column(String(16))  # absorbed id / new piece's id


class LinkageNight(Base):
    """A night whose person ids were assigned: an earlier night is never relinked after a later one."""

    __tablename__ = "linkage_night"

    extract_date: Mapped[date] = mapped_column(Date, primary_key=True)
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
