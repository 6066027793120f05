"""Stable person ids across nights (SQLite, and PostgreSQL when reachable)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from linkage.ids import assign_ids, new_person_ids, persist_ids
from linkage.state_tables import LinkagePersonEvent

D1, D2 = dt.date(2026, 11, 25), dt.date(2026, 11, 26)


def night(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"source": pl.Utf8, "record_id": pl.Utf8, "cluster": pl.Int64}, orient="row")


def test_ids_carry_over_merge_and_split(state_url: str) -> None:
    n1 = night([("hv", "1", 0), ("gp", "1", 0), ("hv", "2", 1), ("hv", "3", 2), ("gp", "3", 2),
                ("dental", "3", 2), ("hv", "4", 3)])
    out1, s1 = persist_ids(state_url, n1, D1)
    ids1 = dict(zip(out1["source"] + "/" + out1["record_id"], out1["person_id"], strict=True))
    assert s1.new == 4 and s1.carried == 0
    assert all(p.startswith("P") and len(p) == 9 for p in ids1.values())

    # night 2: A gains a tp record; C loses its dental record (split); B and D merge; gp/1 missing
    # tonight (its source failed): its person is not treated as gone.
    n2 = night([("hv", "1", 10), ("tp", "9", 10), ("hv", "3", 11), ("gp", "3", 11), ("dental", "3", 12),
                ("hv", "2", 13), ("hv", "4", 13)])
    out2, s2 = persist_ids(state_url, n2, D2)
    ids2 = dict(zip(out2["source"] + "/" + out2["record_id"], out2["person_id"], strict=True))
    assert ids2["hv/1"] == ids2["tp/9"] == ids1["hv/1"]
    assert ids2["hv/3"] == ids2["gp/3"] == ids1["hv/3"]
    assert ids2["dental/3"] not in set(ids1.values())
    assert ids2["hv/2"] == ids2["hv/4"] and ids2["hv/2"] in {ids1["hv/2"], ids1["hv/4"]}
    assert (s2.carried, s2.new, s2.merges, s2.splits) == (3, 1, 1, 1)

    engine = create_engine(state_url)
    with Session(engine) as session:
        events = sorted((e.kind, e.extract_date) for e in session.scalars(select(LinkagePersonEvent)))
    engine.dispose()
    assert events == [("merge", D2), ("split", D2)]

    # a rerun of night 2 changes nothing
    out3, s3 = persist_ids(state_url, n2, D2)
    assert out3["person_id"].to_list() == out2["person_id"].to_list()
    assert (s3.new, s3.merges, s3.splits) == (0, 0, 0)


def test_assign_ids_majority_vote() -> None:
    prev = {("gp", "1"): "PAAAAAAAA", ("gp", "2"): "PAAAAAAAA", ("hv", "1"): "PBBBBBBBB"}
    clusters = night([("gp", "1", 0), ("gp", "2", 0), ("hv", "1", 0), ("sn", "1", 1)])
    taken = {"PAAAAAAAA", "PBBBBBBBB"}
    mapping, events, stats = assign_ids(clusters, prev, taken)
    assert mapping[0] == "PAAAAAAAA"
    assert mapping[1] not in {"PAAAAAAAA", "PBBBBBBBB"}
    assert events == [("merge", "PAAAAAAAA", "PBBBBBBBB")]
    assert (stats.carried, stats.new, stats.merges, stats.splits) == (1, 1, 1, 0)


def test_new_person_ids_are_fresh_base32_and_redrawn_on_a_clash(monkeypatch: pytest.MonkeyPatch) -> None:
    import secrets

    # five zero bytes encode as AAAAAAAA: the first draw gives one id already taken and one new
    draws = iter([bytes(5) + bytes([0, 0, 0, 0, 1]), bytes([255] * 5)])
    monkeypatch.setattr(secrets, "token_bytes", lambda n: next(draws)[:n])
    taken = {"PAAAAAAAA"}
    assert new_person_ids(2, taken) == ["PAAAAAAAB", "P77777777"]
    assert taken == {"PAAAAAAAA", "PAAAAAAAB", "P77777777"}
    monkeypatch.undo()
    many = new_person_ids(1000, taken)
    assert len(set(many)) == 1000 and not set(many) & {"PAAAAAAAA", "PAAAAAAAB", "P77777777"}
    assert all(p[0] == "P" and len(p) == 9 and set(p[1:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for p in many)
