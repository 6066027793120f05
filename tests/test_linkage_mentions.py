"""Mention resolution: related people, named children and dependants to persons."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from linkage.mentions import CONNECTED_CONFIDENCE, NAME_ONLY_CONFIDENCE, resolve_mentions
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
                                            pl.lit(dt.date(1980, 1, 1)).alias("dob"),
                                            pl.lit("Father").alias("relationship"))
    out = resolve_mentions(mention, people, std, pids, model, NICK, nickname_pairs(str(NICK)), 0.2,
                           min_margin=4.0)
    assert out["mentioned_person_id"].to_list() == [None]
    assert 0.0 < out["mention_confidence"][0] <= 0.5


def _people(rows: list[tuple]) -> pl.DataFrame:
    """People rows ``(source, record_id, forename, surname, dob, sex, address_line1, postcode)``."""
    cols = ["source", "record_id", "forename", "surname", "dob", "sex", "address_line1", "postcode"]
    df = pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], schema_overrides={"dob": pl.Date})
    return df.with_columns(
        pl.lit(None, dtype=pl.Utf8).alias("middle_names"), pl.lit(None, dtype=pl.Utf8).alias("known_as"),
        pl.lit(None, dtype=pl.Utf8).alias("nhs_number"), pl.lit(None, dtype=pl.Utf8).alias("nhs_status"),
    )


def _mentions(rows: list[tuple]) -> pl.DataFrame:
    """Mention rows ``(source, owner_record_id, kind, forename, surname, dob, relationship, lives_with)``."""
    cols = ["source", "owner_record_id", "kind", "forename", "surname", "dob", "relationship", "lives_with"]
    df = pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows],
                      schema_overrides={"dob": pl.Date, "forename": pl.Utf8, "surname": pl.Utf8,
                                        "relationship": pl.Utf8, "lives_with": pl.Boolean})
    return df.with_columns(
        pl.lit("M.csv").alias("file"), pl.int_range(2, pl.len() + 2).alias("row"),
        pl.lit(None, dtype=pl.Utf8).alias("nhs_number"),
    )


def _resolve(people: pl.DataFrame, mentions: pl.DataFrame, pids: list[str]) -> pl.DataFrame:
    model = FSModel.load(CONFIG / "linkage_model.json")
    std = standardise_people(people, NICK)
    ids = pl.DataFrame({"uid": list(range(people.height)), "person_id": pids})
    return resolve_mentions(mentions, people, std, ids, model, NICK, nickname_pairs(str(NICK)), 0.2, 0.9, 4.0)


D = dt.date
# a county: the O'Brien household, a Dixon child living away from her father, two strangers
COUNTY = _people([
    ("amh", "9697177", "Luke", "O'Brien", D(1990, 3, 1), "M", "10 Holly Street", "CH6 4XH"),      # A: owner
    ("gp", "1", "Luke", "O'Brien", D(1990, 3, 1), "M", "10 Holly Street", "CH6 4XH"),             # A
    ("gp", "2", "Sarah", "O'Brien", D(1991, 7, 9), "F", "10 Holly Street", "CH6 4XH"),            # B: mother
    ("hv", "207167", "Erin", "O'Brien", D(2024, 5, 2), "F", "10 Holly Street", "CH6 4XH"),        # C: child
    ("gp", "821110", "Erin", "O'Brien", D(2024, 5, 2), "F", "10 Holly Street", "CH6 4XH"),        # C
    ("tp", "TP1", "Tom", "Kowalski", D(1985, 1, 1), "M", None, "CW1 2AB"),                        # D: owner
    ("gp", "3", "Tom", "Kowalski", D(1985, 1, 1), "M", "5 Elm Road", "CW1 2AB"),                  # D
    ("gp", "4", "Oliwia", "Kowalski", D(2015, 2, 2), "F", "5 Elm Road", "CW1 2AB"),               # E: child
    ("amh", "5453431", "Jack", "Dixon", D(1988, 4, 4), "M", "1 Ash Way", "CH2 1AA"),              # F: owner
    ("hv", "9", "Poppy", "Dixon", D(2026, 11, 11), "F", "7 Oak Road", "CW9 9ZZ"),                 # G: his child
    ("gp", "10", "Poppy", "Dixon", D(1958, 6, 6), "F", "3 Mill Lane", "CH4 4BB"),                 # H: a namesake adult
])
COUNTY_PIDS = ["A", "A", "B", "C", "C", "D", "D", "E", "F", "G", "H"]


def test_single_name_written_as_forename_is_tried_as_surname() -> None:
    # `O'Brien` in the forename field, surname blank: the only younger O'Brien at the owner's address
    m = _mentions([("amh", "9697177", "dependant", "O'Brien", None, None, "Daughter", True)])
    out = _resolve(COUNTY, m, COUNTY_PIDS)
    assert out["mentioned_person_id"].to_list() == ["C"]


def test_forename_only_named_child_borrows_owner_surname_and_household() -> None:
    m = _mentions([("tp", "TP1", "named_child", "Oliwia", None, None, None, True)])
    out = _resolve(COUNTY, m, COUNTY_PIDS)
    assert out["mentioned_person_id"].to_list() == ["E"]
    assert out["mention_confidence"][0] > 0.9


def test_no_dob_unique_child_name_resolves_with_moderate_confidence() -> None:
    # Poppy Dixon lives elsewhere, no DOB: the one child-aged Poppy Dixon (the adult namesake is too old),
    # with the name-only confidence
    m = _mentions([("amh", "5453431", "dependant", "Poppy", "Dixon", None, "Daughter", False)])
    out = _resolve(COUNTY, m, COUNTY_PIDS)
    assert out["mentioned_person_id"].to_list() == ["G"]
    assert out["mention_confidence"][0] == NAME_ONLY_CONFIDENCE


def test_no_dob_child_name_said_to_live_with_owner_elsewhere_stays_unresolved() -> None:
    m = _mentions([("amh", "5453431", "dependant", "Poppy", "Dixon", None, "Daughter", True)])
    assert _resolve(COUNTY, m, COUNTY_PIDS)["mentioned_person_id"].to_list() == [None]


def test_ambiguous_child_name_stays_unresolved() -> None:
    people = pl.concat([
        COUNTY, _people([("gp", "11", "Poppy", "Dixon", D(2019, 1, 5), "F", "22 Birch Close", "CH5 5CC")]),
    ])
    m = _mentions([("amh", "5453431", "dependant", "Poppy", "Dixon", None, "Daughter", False)])
    out = _resolve(people, m, [*COUNTY_PIDS, "I"])
    assert out["mentioned_person_id"].to_list() == [None]


def test_relationship_excludes_the_wrong_generation() -> None:
    # a father named without DOB at the owner's address, where a child of the same name also lives
    people = _people([
        ("sn", "50", "Alfie", "Clarke", D(2014, 6, 30), "M", "145 Station Lane", "CW10 8DG"),      # owner
        ("gp", "51", "Mark", "Clarke", D(1986, 1, 24), "M", "145 Station Lane", "CW10 8DG"),       # father
        ("gp", "52", "Mark", "Clarke", D(2016, 2, 2), "M", "145 Station Lane", "CW10 8DG"),        # brother
    ])
    m = _mentions([("sn", "50", "related_person", "Mark", "Clarke", None, "Father", True)])
    out = _resolve(people, m, ["P0", "P1", "P2"])
    assert out["mentioned_person_id"].to_list() == ["P1"]


def test_related_adult_who_named_the_child_resolves_despite_a_wrong_dob() -> None:
    # the father, living elsewhere, named the child on his tp record; the child's record gives his
    # name with a mistyped day of birth: he is the one person connected to the child with that forename
    people = _people([
        ("sn", "708338", "Mark", "Cox", D(2022, 7, 20), "M", "7 Church Walk", "CW9 8FZ"),          # child
        ("tp", "TP17893", "Max", "Johnson", D(1991, 3, 8), "M", None, "CW7 2LG"),                  # father
        ("gp", "7", "Max", "Johnson", D(1975, 9, 9), "M", "1 Far Away", "CH1 1AA"),                # a namesake
    ])
    m = _mentions([
        ("tp", "TP17893", "named_child", "Mark", "Cox", D(2022, 7, 20), None, False),
        ("sn", "708338", "related_person", "Max", "Johnson", D(1991, 3, 14), "Father", False),
    ])
    out = _resolve(people, m, ["C", "F", "N"])
    assert out["mentioned_person_id"].to_list() == ["C", "F"]
    assert out["mention_confidence"][1] == CONNECTED_CONFIDENCE


# the Hall family: three children at home with their mother; their father lives alone and named them
HALLS = _people([
    ("amh", "3946190", "Dean", "Hall", D(1990, 1, 1), "M", "9 Pine Road", "CW1 1AA"),              # F: owner
    ("gp", "20", "Amy", "Pritchard", D(1993, 3, 8), "F", "4 Lark Rise", "CH3 3BB"),                # M: mother
    ("sn", "21", "John", "Hall", D(2017, 6, 17), "M", "4 Lark Rise", "CH3 3BB"),                   # J
    ("hv", "22", "Christopher", "Hall", D(2025, 2, 3), "M", "4 Lark Rise", "CH3 3BB"),             # C
    ("gp", "23", "Christopher", "Hall", D(2021, 12, 29), "M", "8 Far Lane", "CW5 5EE"),            # X: namesake
    ("gp", "24", "Christopher", "Hall", D(2019, 4, 4), "M", "6 Other Street", "CH7 7GG"),          # Y: namesake
])
HALL_PIDS = ["F", "M", "J", "C", "X", "Y"]


def test_sibling_named_by_forename_alone_resolves_through_the_household_of_a_resolved_sibling() -> None:
    # "Christopher" (no surname, no DOB) could be any of three Christopher Halls: the one living with
    # John, whom the father also named (and who is resolved), is the one
    m = _mentions([
        ("amh", "3946190", "dependant", "John", "Hall", D(2017, 6, 17), "Son", False),
        ("amh", "3946190", "dependant", "Christopher", None, None, "Son", False),
    ])
    out = _resolve(HALLS, m, HALL_PIDS)
    assert out["mentioned_person_id"].to_list() == ["J", "C"]
    assert out["mention_confidence"][1] == CONNECTED_CONFIDENCE


def test_without_the_resolved_sibling_the_forename_alone_stays_unresolved() -> None:
    m = _mentions([("amh", "3946190", "dependant", "Christopher", None, None, "Son", False)])
    assert _resolve(HALLS, m, HALL_PIDS)["mentioned_person_id"].to_list() == [None]


def test_a_housemate_must_carry_the_surname_the_mention_gives() -> None:
    # "Christopher Smith" is not John's brother Christopher Hall
    m = _mentions([
        ("amh", "3946190", "dependant", "John", "Hall", D(2017, 6, 17), "Son", False),
        ("amh", "3946190", "dependant", "Christopher", "Smith", None, "Son", False),
    ])
    assert _resolve(HALLS, m, HALL_PIDS)["mentioned_person_id"].to_list() == ["J", None]


def test_a_forename_as_written_comes_before_its_aliases() -> None:
    # "Mia Young": the one child-aged Mia Young, though an Amelia Young (Mia is one of Amelia's short
    # forms) is child-aged too
    people = _people([
        ("amh", "3578843", "Keith", "Patel", D(1989, 4, 11), "M", "3 Lime Court", "CW9 7BS"),      # K: owner
        ("hv", "40", "Mia", "Young", D(2026, 11, 4), "F", "42 Holly Place", "CH66 2EU"),           # M
        ("sn", "41", "Amelia", "Young", D(2010, 3, 17), "F", "7 Bay Road", "CH2 2CC"),             # A
    ])
    m = _mentions([("amh", "3578843", "dependant", "Mia", "Young", None, "Daughter", False)])
    out = _resolve(people, m, ["K", "M", "A"])
    assert out["mentioned_person_id"].to_list() == ["M"]
    assert out["mention_confidence"][0] == NAME_ONLY_CONFIDENCE


def test_a_list_names_a_person_once() -> None:
    # the child's list: her stepfather Max Jonathan Morgan (at home, with his DOB) and her father Nathan
    # Cooper (elsewhere, no DOB; two men of that name). "Nathan" is a short form of Max's middle name, and
    # Max is connected to her, but he is already the stepfather on this list
    people = _people([
        ("hv", "60", "Maisie", "Cooper", D(2022, 3, 3), "F", "90 Linden View", "CH2 2AA"),         # C: owner
        ("gp", "61", "Max", "Morgan", D(1990, 10, 16), "M", "90 Linden View", "CH2 2AA"),          # S
        ("gp", "62", "Nathan", "Cooper", D(1986, 1, 21), "M", "24 Holly Gardens", "CH65 6QT"),     # N
        ("gp", "63", "Nathan", "Cooper", D(1975, 2, 26), "M", "3 Mill Lane", "CH4 4BB"),           # O
    ]).with_columns(pl.Series("middle_names", [None, "Jonathan", None, None], dtype=pl.Utf8))
    m = _mentions([
        ("hv", "60", "related_person", "Max", "Morgan", D(1990, 10, 16), "Stepfather", True),
        ("hv", "60", "related_person", "Nathan", "Cooper", None, "Father", False),
    ])
    assert _resolve(people, m, ["C", "S", "N", "O"])["mentioned_person_id"].to_list() == ["S", None]


def test_confidence_is_a_posterior_against_no_record_at_all() -> None:
    # P(p) = a·LR / ((1 - prior) + a·LR), a = prior / persons: from the confidence at one prior, the one at
    # another follows. The father, named without DOB, lives elsewhere in the same town: the only candidate,
    # with moderate evidence, among 200 strangers
    people = _people([
        ("sn", "50", "Alfie", "Clarke", D(2014, 6, 30), "M", "145 Station Lane", "CW10 8DG"),
        ("gp", "51", "Mark", "Clarke", D(1986, 1, 24), "M", "3 Hill Road", "CW10 9AB"),
        *[("gp", str(60 + i), f"Name{i}", f"Other{i}", D(1970 + i % 30, 1, 1), "F", f"{i} Road", "CH1 1AA")
          for i in range(200)],
    ])
    m = _mentions([("sn", "50", "related_person", "Mark", "Clarke", None, "Father", False)])
    model = FSModel.load(CONFIG / "linkage_model.json")
    std = standardise_people(people, NICK)
    ids = pl.DataFrame({"uid": list(range(people.height)), "person_id": [f"P{i}" for i in range(people.height)]})

    def conf(prior: float) -> float:
        out = resolve_mentions(m, people, std, ids, model, NICK, nickname_pairs(str(NICK)), 0.01, prior, 4.0,
                               name_only=False)
        assert out["mentioned_person_id"].to_list() == ["P1"]
        return float(out["mention_confidence"][0])

    c9, c5 = conf(0.9), conf(0.5)
    x9 = c9 * (1 - 0.9) / (1 - c9)          # a·LR at prior 0.9
    x5 = x9 * 0.5 / 0.9                     # a scales with the prior
    assert c5 == pytest.approx(x5 / ((1 - 0.5) + x5), rel=1e-6)
    assert 0.5 < c5 < c9 < 0.99


def test_a_newborn_may_have_no_record_yet() -> None:
    # a parent names baby Isaac Morris, born three days before the extract; the county's one Isaac Morris
    # on record was born a week earlier elsewhere. A newborn is less likely to be on any record yet, so
    # the same evidence gives a lower confidence (the prior 0.3 instead of 0.9)
    people = _people([
        ("tp", "TP27015", "Sebastian", "Morris", D(1997, 3, 16), "M", None, "CH2 2AA"),           # owner
        ("hv", "848166", "Isaac", "Morris", D(2026, 11, 11), "M", "7 Far Lane", "CW5 5EE"),       # another baby
        *[("gp", str(60 + i), f"Name{i}", f"Other{i}", D(1970 + i % 30, 1, 1), "F", f"{i} Road", "CH1 1AA")
          for i in range(200)],
    ])
    m = _mentions([("tp", "TP27015", "named_child", "Isaac", "Morris", D(2026, 11, 18), None, True)])
    model = FSModel.load(CONFIG / "linkage_model.json")
    std = standardise_people(people, NICK)
    ids = pl.DataFrame({"uid": list(range(people.height)), "person_id": [f"P{i}" for i in range(people.height)]})

    def conf(extract: dt.date) -> float:
        out = resolve_mentions(m, people, std, ids, model, NICK, nickname_pairs(str(NICK)), 0.01, 0.9, 4.0,
                               name_only=False, extract_date=extract, newborn_days=14, newborn_prior_in_data=0.3)
        assert out["mentioned_person_id"].to_list() == ["P1"]
        return float(out["mention_confidence"][0])

    older, newborn = conf(D(2027, 3, 1)), conf(D(2026, 11, 21))
    x9 = older * (1 - 0.9) / (1 - older)    # a·LR at the usual prior
    x3 = x9 * 0.3 / 0.9
    assert newborn == pytest.approx(x3 / ((1 - 0.3) + x3), rel=1e-6)
    assert newborn < older


def test_alike_mention_rows_are_compared_once_with_the_same_levels_as_each() -> None:
    from linkage.mentions import _compare_candidates, _compare_distinct

    std = standardise_people(PEOPLE, NICK)
    # two mention rows alike in every compared column (one mother named twice) and one other
    mentions = standardise_people(pl.DataFrame({
        "source": ["hv"] * 3, "record_id": ["m1", "m2", "m3"], "forename": ["Emma", "Emma", "Bob"],
        "surname": ["Wilson"] * 3, "dob": [dt.date(1990, 10, 29), dt.date(1990, 10, 29), None],
        "address_line1": ["101 Linden Lane"] * 3, "postcode": ["CH66 8AW"] * 3,
    }, schema_overrides={"dob": pl.Date}), NICK).with_columns(pl.col("uid") + std.height)
    allrec = pl.concat([std, mentions], how="diagonal_relaxed")
    cands = pl.DataFrame({"uid_l": [5, 6, 7] * 5, "uid_r": [u for u in range(5) for _ in range(3)]})
    once = _compare_candidates(allrec, cands, nickname_pairs(str(NICK))).sort("uid_l", "uid_r")
    each = _compare_distinct(allrec, cands, nickname_pairs(str(NICK))).sort("uid_l", "uid_r")
    assert_frame_equal(once, each)
    assert once.filter(pl.col("uid_r") == 5).drop("uid_r").equals(once.filter(pl.col("uid_r") == 6).drop("uid_r"))
    assert once.height > 0
