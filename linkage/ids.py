"""Stable person identifiers across nights.

Tonight's cluster keeps the identifier most of its records had last night (majority vote, each old
identifier going to at most one cluster: the one holding most of its records); clusters with no
usable old identifier get a new random one (``P`` + 8 base32 characters, never derived from data).
Merges (a cluster gathering several old identifiers) and splits (an old identifier's records now in
several clusters) are recorded in ``linkage_person_event``.
"""

from __future__ import annotations

import base64
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl
from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from ground.allocation import gc_paused
from ground.errors import OperatorError
from ground.state import open_state
from linkage.state_tables import LinkageNight, LinkagePerson, LinkagePersonEvent, LinkageRecordPerson


class OutOfOrderNight(OperatorError):
    """Relinking a night earlier than one already linked would rewrite the ids later nights rely on."""

    def __init__(self, night: date, latest: date) -> None:
        super().__init__(
            f"night {night} is earlier than {latest}, the latest night already linked: relinking it would rewrite "
            "person ids that later nights rely on, so nothing was changed; run nights in date order (to redo "
            f"{night}, restore the state database from before {night} was first run and run {night} and every "
            "later night again)")


def latest_linked_night(session: Session) -> date | None:
    """The latest night whose person ids were assigned, or None.

    Args:
        session: a session on the state database.
    """
    return session.scalar(select(func.max(LinkageNight.extract_date)))


def check_night_order(state_url: str, extract_date: date) -> None:
    """Refuse a night earlier than the latest already linked (the same night again is a normal rerun).

    Args:
        state_url: the state database URL.
        extract_date: the night about to run.

    Raises:
        OutOfOrderNight: a later night has been linked.
    """
    engine = open_state(state_url)
    try:
        with Session(engine) as session:
            latest = latest_linked_night(session)
    finally:
        engine.dispose()
    if latest is not None and latest > extract_date:
        raise OutOfOrderNight(extract_date, latest)


def new_person_ids(count: int, taken: set[str]) -> list[str]:
    """``count`` fresh opaque identifiers, none in ``taken`` (which gains them).

    Each is ``P`` and the base32 of five random bytes; the bytes for all of them are drawn at once (base32 turns
    every five bytes into eight characters of their own, so one encoding of them all is every identifier's).

    Args:
        count: identifiers wanted.
        taken: identifiers already issued.
    """
    fresh: list[str] = []
    while len(fresh) < count:
        text = base64.b32encode(secrets.token_bytes(5 * (count - len(fresh)))).decode("ascii")
        for i in range(0, len(text), 8):
            pid = "P" + text[i:i + 8]
            if pid not in taken:
                taken.add(pid)
                fresh.append(pid)
    return fresh


@dataclass
class IdStats:
    """Counts of what happened to identifiers tonight."""

    carried: int = 0
    new: int = 0
    merges: int = 0
    splits: int = 0


def assign_ids(
    clusters: pl.DataFrame, previous: dict[tuple[str, str], str], taken: set[str]
) -> tuple[dict[int, str], list[tuple[str, str, str]], IdStats]:
    """Decide tonight's person id of every cluster.

    Args:
        clusters: ``source``, ``record_id``, ``cluster`` (int label) for tonight's records.
        previous: (source, record_id) -> last night's person id.
        taken: every identifier ever issued (updated with new ones).

    Returns:
        ``(cluster -> person_id, events, stats)``; events are ``(kind, person_id, other_person_id)``.
    """
    votes: dict[int, Counter] = defaultdict(Counter)
    clusters_of_prev: dict[str, set[int]] = defaultdict(set)
    all_clusters: set[int] = set()
    for s, r, c in clusters.select("source", "record_id", "cluster").iter_rows():
        all_clusters.add(c)
        pid = previous.get((s, r))
        if pid is not None:
            votes[c][pid] += 1
            clusters_of_prev[pid].add(c)
    cands = sorted(((-n, pid, c) for c, cnt in votes.items() for pid, n in cnt.items()))
    assigned: dict[int, str] = {}
    used: set[str] = set()
    for _, pid, c in cands:
        if c in assigned or pid in used:
            continue
        assigned[c] = pid
        used.add(pid)
    stats = IdStats(carried=len(assigned))
    unassigned = sorted(all_clusters - assigned.keys())
    assigned.update(zip(unassigned, new_person_ids(len(unassigned), taken), strict=True))
    stats.new = len(unassigned)
    events: list[tuple[str, str, str]] = []
    for c, cnt in votes.items():
        for pid in cnt:
            if pid != assigned[c] and len(clusters_of_prev[pid]) == 1:
                events.append(("merge", assigned[c], pid))
                stats.merges += 1
    for pid, cs in clusters_of_prev.items():
        if len(cs) > 1:
            for c in sorted(cs):
                if assigned[c] != pid:
                    events.append(("split", pid, assigned[c]))
                    stats.splits += 1
    return assigned, events, stats


@gc_paused()
def persist_ids(state_url: str, records: pl.DataFrame, extract_date: date) -> tuple[pl.DataFrame, IdStats]:
    """Assign stable ids to tonight's clusters and store them in the state database.

    Args:
        state_url: SQLAlchemy URL of the state database.
        records: ``source``, ``record_id``, ``cluster`` for tonight's records.
        extract_date: the night's extract date.

    Returns:
        ``records`` with ``person_id`` added, and the id statistics.

    Raises:
        OutOfOrderNight: a later night has already been linked (nothing is changed).
    """
    engine = open_state(state_url)
    try:
        with Session(engine) as session, session.begin():
            latest = latest_linked_night(session)
            if latest is not None and latest > extract_date:
                raise OutOfOrderNight(extract_date, latest)
            if latest != extract_date:
                session.add(LinkageNight(extract_date=extract_date, linked_at=datetime.now(UTC)))
            previous = {
                (s, r): p
                for s, r, p in session.execute(
                    select(LinkageRecordPerson.source, LinkageRecordPerson.record_id, LinkageRecordPerson.person_id)
                )
            }
            taken = set(session.scalars(select(LinkagePerson.person_id)))
            known_before = set(taken)
            mapping, events, stats = assign_ids(records, previous, taken)
            out = records.with_columns(
                pl.col("cluster").replace_strict(mapping, return_dtype=pl.Utf8).alias("person_id")
            )
            # persons
            new_ids = sorted(set(mapping.values()) - known_before)
            if new_ids:
                session.connection().execute(
                    insert(LinkagePerson),
                    [{"person_id": p, "created_on": extract_date, "status": "active", "last_seen": extract_date}
                     for p in new_ids],
                )
            live = sorted(set(mapping.values()) & known_before)
            for i in range(0, len(live), 5000):
                session.execute(
                    update(LinkagePerson)
                    .where(LinkagePerson.person_id.in_(live[i : i + 5000]))
                    .values(status="active", merged_into=None, last_seen=extract_date)
                )
            for kind, pid, other in events:
                if kind == "merge":
                    session.execute(
                        update(LinkagePerson)
                        .where(LinkagePerson.person_id == other)
                        .values(status="merged", merged_into=pid)
                    )
            session.execute(delete(LinkagePersonEvent).where(LinkagePersonEvent.extract_date == extract_date))
            if events:
                session.execute(
                    insert(LinkagePersonEvent),
                    [{"extract_date": extract_date, "kind": k, "person_id": p, "other_person_id": o}
                     for k, p, o in events],
                )
            # record -> person (Core executemany: no ORM bookkeeping for hundreds of thousands of rows)
            table = LinkageRecordPerson.__table__
            assert isinstance(table, Table)
            ins, upd = [], []
            for s, r, p in out.select("source", "record_id", "person_id").iter_rows():
                old = previous.get((s, r))
                if old is None:
                    ins.append({"source": s, "record_id": r, "person_id": p,
                                "first_seen": extract_date, "last_seen": extract_date})
                elif old != p:
                    upd.append({"b_source": s, "b_record_id": r, "person_id": p, "last_seen": extract_date})
            conn = session.connection()
            for i in range(0, len(ins), 50_000):
                conn.execute(insert(table), ins[i : i + 50_000])
            if upd:
                conn.execute(
                    update(table)
                    .where(table.c.source == bindparam("b_source"), table.c.record_id == bindparam("b_record_id"))
                    .values(person_id=bindparam("person_id"), last_seen=bindparam("last_seen")),
                    upd,
                )
    finally:
        engine.dispose()
    return out, stats
