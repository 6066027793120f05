"""Mention resolution: related people, named children and dependants to persons."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from linkage.mentions import resolve_mentions
from linkage.model import FSModel
from linkage.standardise import nickname_pairs, standardise_people

CONFIG = Path(__file__).resolve().parents[1] / "config"
NICK = CONFIG / "nicknames.yaml"

PEOPLE = pl.DataFrame(
    {
        "source": ["hv", "gp", "gp", "gp", "gp"],
        "record_id": ["100", "1", "2", "3", "4"],
        "forename": ["Harry", "Emma", "Emma", "Robert", "Harry"],
        "middle_names": [None] * 5,
        "surname": ["Wilson", "Wilson", "Wilson", "Wilson", "Wilson"],
        "known_as": [None] * 5,
        "dob": [dt.date(2023, 11, 3), dt.date(1990, 10, 29), dt.date(1961, 2, 1), dt.date(1988, 5, 5),
                dt.date(2023, 11, 3)],
        "sex": ["M", "F", "F", "M", "M"],
        "address_line1": ["101 Linden Lane", "101 Linden Lane", "7 Oak Road", "101 Linden Lane", "101 Linden Lane"],
        "postcode": ["CH66 8AW", "CH66 8AW", "CW1 2AB", "CH66 8AW", "CH66 8AW"],
        "nhs_number": ["9999928714", None, None, None, "9999928714"],
        "nhs_status": ["01", None, None, None, None],
    },
    schema_overrides={"dob": pl.Date},
)

MENTIONS = pl.DataFrame(
    {
        "source": ["hv", "hv", "hv", "hv"],
        "owner_record_id": ["100", "100", "100", "100"],
        "file": ["HV_RelatedPeople_20261125.csv"] * 4,
        "row": [2, 3, 4, 5],
        "kind": ["related_person"] * 4,
        "forename": ["Emma", "Bob", "Zebedee", "Emma"],
        "surname": ["Wilson", None, "Quux", "Wilson"],
        "dob": [dt.date(1990, 10, 29), None, None, dt.date(1961, 2, 1)],
        "nhs_number": [None, None, None, None],
        "relationship": ["Mother", "Father", "Other", "Grandparent"],
    },
    schema_overrides={"dob": pl.Date, "nhs_number": pl.Utf8},
)


def test_resolve_mentions() -> None:
    model = FSModel.load(CONFIG / "linkage_model.json")
    std = standardise_people(PEOPLE, NICK)
    # hv/100 and gp/4 are the same child (person P0); everyone else is their own person
    pids = pl.DataFrame({"uid": [0, 1, 2, 3, 4], "person_id": ["P0", "P1", "P2", "P3", "P0"]})
    out = resolve_mentions(MENTIONS, PEOPLE, std, pids, model, NICK, nickname_pairs(str(NICK)), 0.5)
    got = out.select("row", "owner_person_id", "mentioned_person_id")
    expected = pl.DataFrame(
        {
            "row": [2, 3, 4, 5],
            "owner_person_id": ["P0"] * 4,
            # mother by name + DOB; "Bob" = Robert, surname borrowed from the child, same address;
            # an unknown name stays unresolved; the grandmother by name + DOB though she lives elsewhere
            "mentioned_person_id": ["P1", "P3", None, "P2"],
        }
    )
    assert_frame_equal(got, expected)
    conf = out["mention_confidence"].to_list()
    assert all(0.0 <= c <= 1.0 for c in conf)
    assert conf[0] > 0.9 and conf[2] == 0.0
    assert out.columns[: len(MENTIONS.columns)] == MENTIONS.columns


def test_tied_mention_stays_unresolved() -> None:
    model = FSModel.load(CONFIG / "linkage_model.json")
    # two different people called Jack Jones born the same day, neither at the owner's address
    people = pl.concat([
        PEOPLE,
        pl.DataFrame(
            {
                "source": ["gp", "gp"], "record_id": ["20", "21"], "forename": ["Jack", "Jack"],
                "middle_names": [None, None], "surname": ["Jones", "Jones"], "known_as": [None, None],
                "dob": [dt.date(1980, 1, 1), dt.date(1980, 1, 1)], "sex": ["M", "M"],
                "address_line1": ["1 Elm Road", "9 Ash Way"], "postcode": ["CW1 1AA", "CW2 2BB"],
                "nhs_number": [None, None], "nhs_status": [None, None],
            },
            schema_overrides={"dob": pl.Date},
        ),
    ], how="vertical_relaxed")
    std = standardise_people(people, NICK)
    pids = pl.DataFrame({"uid": list(range(7)), "person_id": ["P0", "P1", "P2", "P3", "P0", "P4", "P5"]})
    mention = MENTIONS.head(1).with_columns(pl.lit("Jack").alias("forename"), pl.lit("Jones").alias("surname"),
                                            pl.lit(dt.date(1980, 1, 1)).alias("dob"))
    out = resolve_mentions(mention, people, std, pids, model, NICK, nickname_pairs(str(NICK)), 0.2,
                           min_margin=4.0)
    assert out["mentioned_person_id"].to_list() == [None]
    assert 0.0 < out["mention_confidence"][0] <= 0.5
