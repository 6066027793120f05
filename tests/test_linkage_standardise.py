"""Standardisers and comparison features of the linkage stage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from linkage.compare import COMPARISONS, LEVELS, CompareSpec, compare_pairs
from linkage.frames import to_recordlinkage
from linkage.standardise import (
    fold_text,
    load_nicknames,
    nickname_pairs,
    normalise_address_expr,
    normalise_postcode_expr,
    placeholder_to_null_expr,
    standardise_people,
    strip_titles_expr,
)

CONFIG = Path(__file__).resolve().parents[1] / "config"
NICK = CONFIG / "nicknames.yaml"


def people(**cols: list) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    base: dict[str, list] = {
        "source": ["gp"] * n, "record_id": [str(i) for i in range(n)], "forename": [None] * n,
        "middle_names": [None] * n, "surname": [None] * n, "known_as": [None] * n, "dob": [None] * n,
        "sex": [None] * n, "address_line1": [None] * n, "postcode": [None] * n, "nhs_number": [None] * n,
        "nhs_status": [None] * n,
    }
    base.update(cols)
    return pl.DataFrame(base, schema_overrides={"dob": pl.Date})


@pytest.mark.parametrize(
    ("raw", "folded"),
    [("Siobhán", "siobhan"), ("O’Brien", "obrien"), ("O'Brien", "obrien"), ("Shaw-Walker", "shaw walker"),
     ("WIŚNIEWSKI", "wisniewski"), ("Łukasz", "lukasz"), ("Zoë", "zoe"), ("  ", None), (None, None)],
)
def test_fold_text(raw: str | None, folded: str | None) -> None:
    assert fold_text(raw) == folded


def test_name_expressions() -> None:
    df = pl.DataFrame({"n": ["mr john", "baby girl", "twin 1", "dr", "lily"]})
    out = df.select(placeholder_to_null_expr(strip_titles_expr(pl.col("n"))).alias("n"))
    assert_frame_equal(out, pl.DataFrame({"n": ["john", None, None, None, "lily"]}))


def test_postcode_and_address() -> None:
    df = pl.DataFrame({"p": ["ch1 4bj", "CH1  4BJ", "ZZ99 3VZ", "NOTAPC", None],
                       "a": ["12 Oak Rd.", "12, OAK ROAD", "Flat 1", None, "3 High St"]})
    out = df.select(normalise_postcode_expr(pl.col("p")), normalise_address_expr(pl.col("a")))
    expected = pl.DataFrame({"p": ["CH14BJ", "CH14BJ", None, None, None],
                             "a": ["12 oak road", "12 oak road", "flat 1", None, "3 high street"]})
    assert_frame_equal(out, expected)


def test_nicknames_table() -> None:
    groups = load_nicknames(str(NICK))
    pairs = nickname_pairs(str(NICK))
    assert sum(1 for p in pairs if p < p.split("|")[1] + "|" + p.split("|")[0]) >= 100
    for a, b in [("robert", "bob"), ("elizabeth", "liz"), ("elizabeth", "beth"), ("william", "bill"),
                 ("william", "liam")]:
        assert f"{a}|{b}" in pairs
        assert set(groups[a]) & set(groups[b])


def test_standardise_people() -> None:
    df = people(
        forename=["Mr Bob", "Baby", "Siobhán"], middle_names=["James Paul", None, None],
        surname=["O'Brien-Smith", "Webb", "Ní Bhriain"], known_as=[None, "Sunny", None],
        dob=[dt.date(2020, 1, 2), None, dt.date(1990, 12, 31)], sex=["M", "U", "F"],
        postcode=["CH1 4BJ", "ZZ99 3VZ", "cw10 8dq"], nhs_number=["9434765919", None, "9990001112"],
        nhs_status=["01", None, "02"],
    )
    out = standardise_people(df, NICK).select(
        "uid", "fn", "fn_alt", "sn", "sn_first", "sn_last", "dob_y", "dob_s", "pc", "pc_sector", "pc_out", "sex",
        "nhs_verified", "fn_ph", "sn_ph",
    )
    expected = pl.DataFrame(
        {
            "uid": [0, 1, 2], "fn": ["bob", "sunny", "siobhan"], "fn_alt": ["james", None, None],
            "sn": ["obriensmith", "webb", "nibhriain"],
            "sn_first": ["obrien", None, "ni"], "sn_last": ["smith", None, "bhriain"],
            "dob_y": [2020, None, 1990], "dob_s": ["02012020", None, "31121990"],
            "pc": ["CH14BJ", None, "CW108DQ"], "pc_sector": ["CH14", None, "CW108"],
            "pc_out": ["CH1", None, "CW10"], "sex": ["M", None, "F"], "nhs_verified": [True, False, False],
            "fn_ph": ["BB", "SN", "XBHN"], "sn_ph": ["OBRNSM0", "WB", "NBHRN"],
        },
        schema_overrides={"dob_y": pl.Int32},
    )
    assert_frame_equal(out, expected)


def test_comparison_levels() -> None:
    df = people(
        forename=["Robert", "Bob", "Jon", "Smith", "Robert", "Robret"],
        surname=["Smith", "Smith", "Smith-Jones", "John", "Smyth", "Smith"],
        dob=[dt.date(2015, 3, 4), dt.date(2015, 4, 3), dt.date(2015, 3, 5), dt.date(2015, 3, 4),
             dt.date(2015, 8, 9), None],
        postcode=["CH1 4BJ", "CH1 4BJ", "CH1 4XX", "CH2 1AA", "CH1 4BJ", None],
        address_line1=["1 Oak Rd", "1 Oak Road", None, None, "2 Elm St", "1 Oak Road"],
        nhs_number=["9434765919", "9434765919", "9990001112", None, None, None], sex=["M", "M", "F", None, "M", "M"],
    )
    std = standardise_people(df, NICK)
    pairs = pl.DataFrame({"uid_l": [0, 0, 3, 0, 0], "uid_r": [1, 2, 2, 4, 5]})
    rec, idx = to_recordlinkage(std, pairs)
    lv = pl.from_pandas(compare_pairs(idx, rec, nickname_pairs(str(NICK))).reset_index(drop=True))
    fn, sn, loc = LEVELS["forename"].index, LEVELS["surname"].index, LEVELS["location"].index
    dob = LEVELS["dob"].index
    expected = pl.DataFrame(
        {
            # Smith John / Jon Smith-Jones: not swapped (Smith is one part of the other's surname) but the
            # surname John crossed, one edit from the other's forename Jon
            "forename": [fn("nickname_or_alt"), fn("different"), fn("crossed"), fn("exact"), fn("one_edit")],
            "surname": [sn("exact"), sn("token"), sn("different"), sn("one_edit"), sn("exact")],
            "dob": [dob("day_month_swapped"), dob("one_digit"), dob("one_digit"), dob("year_only"), -1],
            "location": [loc("postcode_and_address"), loc("sector"), loc("different"), loc("postcode"),
                         loc("address_only")],
            "nhs": [1, 0, -1, -1, -1],
            "sex": [1, 0, -1, 1, 1],
        },
        schema={c: pl.Int8 for c in COMPARISONS},
    )
    assert_frame_equal(lv, expected)
    # a subset of comparisons (mention resolution compares forename and NHS number first)
    part = pl.from_pandas(compare_pairs(idx, rec, nickname_pairs(str(NICK)), spec=CompareSpec(("forename", "nhs")))
                          .reset_index(drop=True))
    assert_frame_equal(part, expected.select("forename", "nhs"))


def test_slip_in_a_nickname_is_close() -> None:
    # Wiilliam / Billy and Nirola / Nicky: a typing error in one name of an alias pair; Karen / Billy is not
    df = people(forename=["Wiilliam", "Billy", "Nirola", "Nicky", "Karen"], surname=["Smith"] * 5)
    std = standardise_people(df, NICK)
    pairs = pl.DataFrame({"uid_l": [0, 2, 4], "uid_r": [1, 3, 1]})
    rec, idx = to_recordlinkage(std, pairs)
    lv = compare_pairs(idx, rec, nickname_pairs(str(NICK)))
    levels = LEVELS["forename"]
    assert [levels[i] for i in lv["forename"]] == ["jaro_winkler_92", "jaro_winkler_92", "different"]


def test_swapped_names_level() -> None:
    df = people(forename=["John", "Smith"], surname=["Smith", "John"])
    std = standardise_people(df, NICK)
    rec, idx = to_recordlinkage(std, pl.DataFrame({"uid_l": [0], "uid_r": [1]}))
    lv = compare_pairs(idx, rec, nickname_pairs(str(NICK)))
    assert lv["forename"].tolist() == [LEVELS["forename"].index("swapped")]
    assert lv["surname"].tolist() == [LEVELS["surname"].index("swapped")]


def test_graded_name_levels() -> None:
    # initial; sounding alike only; Jaro-Winkler bands; a transposition is one edit; double-barrelled in
    # either order shares a token; missing
    df = people(
        forename=["J", "John", "Phoebe", "Feebee", "Dwayne", "Duane", "Martha", "Marhta", "Ann", None],
        surname=["Walls", "Walms", "Chandler", "Chandlder", "Smith-Jones", "Jones Smith", "Reid", "Reif",
                 "Mason", "Masno"],
    )
    std = standardise_people(df, NICK)
    pairs = pl.DataFrame({"uid_l": [0, 2, 4, 6, 8], "uid_r": [1, 3, 5, 7, 9]})
    rec, idx = to_recordlinkage(std, pairs)
    lv = compare_pairs(idx, rec, nickname_pairs(str(NICK)))
    fn = [LEVELS["forename"][i] if i >= 0 else "missing" for i in lv["forename"]]
    sn = [LEVELS["surname"][i] if i >= 0 else "missing" for i in lv["surname"]]
    assert fn == ["initial", "phonetic", "jaro_winkler_80", "one_edit", "missing"]
    assert sn == ["one_edit", "one_edit", "token", "one_edit", "one_edit"]


def test_dob_and_street_levels() -> None:
    # born 8 and 30 years apart; one street, house number missing on one side
    df = people(
        forename=["Ann", "Ann", "Ann", "Ann"], surname=["Lee"] * 4,
        dob=[dt.date(2015, 3, 4), dt.date(2007, 6, 1), dt.date(1985, 6, 1), None],
        address_line1=["223 Eggleston Crescent", "Eggleston Crescent", "12 Oak Road", "14 Oak Road"],
    )
    std = standardise_people(df, NICK)
    rec, idx = to_recordlinkage(std, pl.DataFrame({"uid_l": [0, 0, 2], "uid_r": [1, 2, 3]}))
    lv = compare_pairs(idx, rec, nickname_pairs(str(NICK)))
    assert [LEVELS["dob"][i] if i >= 0 else "missing" for i in lv["dob"]] == [
        "within_10_years", "different", "missing"]
    assert [LEVELS["location"][i] for i in lv["location"]] == ["street", "different", "street"]


def test_name_token_keys_hold_both_names_in_either_order() -> None:
    df = people(forename=["Hannah", "Mihal", "Ann", None], surname=["Mihal", "Hannsh", "Ann", "Lee"])
    out = standardise_people(df, NICK).select("uid", "names_ph", "names3", "name_ph_any", "name3_any")
    expected = pl.DataFrame({
        "uid": [0, 1, 2, 3],
        "names_ph": ["HN|MHL", "HNX|MHL", "AN|AN", None],
        "names3": ["han|mih", "han|mih", "ann|ann", None],
        "name_ph_any": [["HN", "MHL"], ["MHL", "HNX"], ["AN"], ["L"]],
        "name3_any": [["han", "mih"], ["mih", "han"], ["ann"], ["lee"]],
    })
    assert_frame_equal(out, expected)


def test_one_name_crossed_into_the_other_field() -> None:
    # Bryce Dixon / Reece Bryce: the forename is the other's surname, the other name replaced; a slip in the
    # crossed name still counts; names that agree the straight way or are fully swapped keep their levels
    df = people(
        forename=["Bryce", "Reece", "Jonh", "Capurso", "Ann", "Ann", "John", "Smith", "Tom", "Ann"],
        surname=["Dixon", "Bryce", "Coxon", "Ruby", "Lee", "Ann", "Smith", "John", "Hardy", "Webb"],
    )
    std = standardise_people(df, NICK)
    pairs = pl.DataFrame({"uid_l": [0, 2, 4, 6, 8], "uid_r": [1, 3, 5, 7, 9]})
    rec, idx = to_recordlinkage(std, pairs)
    lv = compare_pairs(idx, rec, nickname_pairs(str(NICK)))
    fn = [LEVELS["forename"][i] for i in lv["forename"]]
    sn = [LEVELS["surname"][i] for i in lv["surname"]]
    assert fn == ["crossed", "different", "exact", "swapped", "different"]
    assert sn == ["different", "different", "different", "swapped", "different"]


def test_a_slipped_crossed_name_is_crossed() -> None:
    df = people(forename=["John", "Cooxn"], surname=["Coxon", "Jonh"])
    std = standardise_people(df, NICK)
    rec, idx = to_recordlinkage(std, pl.DataFrame({"uid_l": [0], "uid_r": [1]}))
    lv = compare_pairs(idx, rec, nickname_pairs(str(NICK)))
    # both crossed, each with a slip: crossed (swapped needs one of them exact)
    assert [LEVELS["forename"][i] for i in lv["forename"]] == ["crossed"]
    assert [LEVELS["surname"][i] for i in lv["surname"]] == ["different"]


def test_an_address_line_of_a_house_number_alone_is_missing_for_the_street() -> None:
    df = people(
        forename=["Ann"] * 6, surname=["Lee"] * 6,
        address_line1=["7 Ina Gregory Circuit", "7", "19", "19", "7 Oak Road", "9 Elm Road"],
        postcode=[None, None, None, None, None, None],
    )
    std = standardise_people(df, NICK)
    rec, idx = to_recordlinkage(std, pl.DataFrame({"uid_l": [0, 2, 4], "uid_r": [1, 3, 5]}))
    lv = compare_pairs(idx, rec, nickname_pairs(str(NICK)))
    assert [LEVELS["location"][i] if i >= 0 else "missing" for i in lv["location"]] == [
        "missing", "missing", "different"]
