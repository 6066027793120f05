"""Blocking that adapts to how common each key is tonight: big blocks subdivided by refinement keys."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from linkage.blocking import DEFAULT_PASSES, BlockingPass, candidate_pairs, passes_from_config
from linkage.config import load_linkage_config
from linkage.standardise import PLACEHOLDER_FORENAMES, TITLES, standardise_people

NICKNAMES = Path(__file__).resolve().parents[1] / "config" / "nicknames.yaml"

# AA1 1AA: 5 records, over a cap of 3; its birth years split it into two pairs and a record without a year.
# BB1 1BB: 3 records, at the cap: joined whole.
# CC1 1CC: 5 records, all born in 1980: still over the cap by year; by surname start two blocks of 2 and 3.
RECORDS = pl.DataFrame(
    {
        "uid": list(range(13)),
        "source": ["gp", "hv", "gp", "sn", "gp", "gp", "dental", "tp", "gp", "hv", "gp", "sn", "amh"],
        "pc": ["AA11AA"] * 5 + ["BB11BB"] * 3 + ["CC11CC"] * 5,
        "dob_y": [1990, 1990, 1991, 1991, None, 2001, 2002, 2003, 1980, 1980, 1980, 1980, 1980],
        "sn3": ["SMI", "JON", "SMI", "SMI", "SMI", "LEE", "LEE", "LEE", "TAY", "TAY", "WOO", "WOO", "WOO"],
        "fn": ["AMY", "BEN", "CAL", "DAN", "EVE", "FAY", "GUS", "HAL", "IVY", "JAY", "KAY", "LEO", "MAX"],
    },
    schema_overrides={"dob_y": pl.Int32},
)


def _counts(pairs: int, cap: int, block_pairs_cap: int, subdivided: int, skipped: int) -> dict[str, int]:
    return {"pairs": pairs, "cap": cap, "block_pairs_cap": block_pairs_cap, "subdivided_keys": subdivided,
            "skipped_keys": skipped}


def _pairs(frame: pl.DataFrame) -> list[tuple[int, int]]:
    return list(zip(frame["uid_l"].to_list(), frame["uid_r"].to_list(), strict=True))


def test_a_big_block_is_subdivided_by_the_refinement_key() -> None:
    bp = BlockingPass("postcode", ("pc",), refine=("dob_y",))
    pairs, stats = candidate_pairs(RECORDS, (bp,), max_block_size=3)
    assert _pairs(pairs) == [(0, 1), (2, 3), (5, 6), (5, 7), (6, 7)]
    assert pairs["same_source"].to_list() == [False, False, False, False, False]
    assert stats.by_pass() == {"postcode": _counts(5, 3, 0, 2, 1)}


def test_a_pass_over_its_pair_budget_subdivides_its_largest_blocks() -> None:
    bp = BlockingPass("postcode", ("pc",), refine=("dob_y",))
    # blocks of 10, 10 and 3 pairs (23), none over the cap of 5 records; a budget of 10 pairs (one block at
    # the cap holds 10): the two of 10 pairs are too common tonight
    pairs, stats = candidate_pairs(RECORDS, (bp,), max_block_size=5, max_pairs_per_record=5 / RECORDS.height)
    assert _pairs(pairs) == [(0, 1), (2, 3), (5, 6), (5, 7), (6, 7)]
    assert stats.by_pass()["postcode"] == _counts(5, 5, 10, 2, 1)
    within, stats = candidate_pairs(RECORDS, (bp,), max_block_size=5, max_pairs_per_record=23 / RECORDS.height)
    assert within.height == 23 and stats.by_pass()["postcode"]["block_pairs_cap"] == 0
    # a small night is never cut below what one block at the cap holds (300 records: 44,850 pairs)
    small, stats = candidate_pairs(RECORDS, (bp,), max_block_size=300, max_pairs_per_record=5 / RECORDS.height)
    assert small.height == 23 and stats.by_pass()["postcode"]["subdivided_keys"] == 0


def test_the_pair_budget_holds_after_each_subdivision() -> None:
    # one postcode, all born in 1990: subdividing by year leaves the whole block; by surname start, blocks of
    # 3 pairs (SMI) and 1 pair (JON), together over a budget of 3 pairs: the larger is left out
    records = pl.DataFrame({"uid": list(range(5)), "source": ["gp", "hv", "sn", "gp", "hv"], "pc": ["X"] * 5,
                            "dob_y": [1990] * 5, "sn3": ["SMI", "SMI", "SMI", "JON", "JON"]},
                           schema_overrides={"dob_y": pl.Int32})
    bp = BlockingPass("postcode", ("pc",), refine=("dob_y", "sn3"))
    pairs, stats = candidate_pairs(records, (bp,), max_block_size=3, max_pairs_per_record=3 / records.height)
    assert _pairs(pairs) == [(3, 4)]
    assert stats.by_pass()["postcode"] == _counts(1, 3, 10, 1, 1)


def test_refinement_keys_are_tried_in_order_until_blocks_fit() -> None:
    bp = BlockingPass("postcode", ("pc",), refine=("dob_y", "sn3"))
    pairs, stats = candidate_pairs(RECORDS, (bp,), max_block_size=3)
    assert _pairs(pairs) == [(0, 1), (2, 3), (5, 6), (5, 7), (6, 7), (8, 9), (10, 11), (10, 12), (11, 12)]
    assert stats.by_pass()["postcode"] == _counts(9, 3, 0, 2, 0)


def test_without_refinement_keys_a_big_block_is_skipped_and_counted() -> None:
    pairs, stats = candidate_pairs(RECORDS, (BlockingPass("postcode", ("pc",)),), max_block_size=3)
    assert _pairs(pairs) == [(5, 6), (5, 7), (6, 7)]
    assert stats.by_pass()["postcode"] == _counts(3, 3, 0, 0, 2)


def test_a_pass_may_set_its_own_cap() -> None:
    passes = (BlockingPass("postcode", ("pc",), max_block_size=5), BlockingPass("year", ("dob_y",)))
    pairs, stats = candidate_pairs(RECORDS, passes, max_block_size=2)
    postcode = {(a, b) for a in range(13) for b in range(a + 1, 13) if RECORDS["pc"][a] == RECORDS["pc"][b]}
    year = {(0, 1), (2, 3)}  # 1980 has 5 records, over the global cap of 2
    assert set(_pairs(pairs)) == postcode | year
    assert stats.by_pass() == {"postcode": _counts(23, 5, 0, 0, 0),
                               "year": _counts(2, 2, 0, 0, 1)}
    both = pairs.filter((pl.col("uid_l") == 0) & (pl.col("uid_r") == 1))["passes"].to_list()
    assert both == [0b11]


def test_swapped_keys_are_refined_by_the_same_column_on_both_sides() -> None:
    records = pl.DataFrame({
        "uid": [0, 1, 2, 3, 4],
        "source": ["gp", "hv", "hv", "hv", "sn"],
        "fn": ["LEE", "AMY", "BEN", "CAL", "LEE"],
        "sn": ["SMITH", "LEE", "LEE", "LEE", "JONES"],
        "dob_y": [1990, 1990, 1991, 1990, 1991],
    })
    bp = BlockingPass("swapped", ("fn",), ("sn",), refine=("dob_y",))
    pairs, stats = candidate_pairs(records, (bp,), max_block_size=2)
    # forename LEE (records 0, 4) against surname LEE (records 1, 2, 3): over 2 on the right, so by year:
    # 1990: 0 with 1 and 3; 1991: 4 with 2
    assert _pairs(pairs) == [(0, 1), (0, 3), (2, 4)]
    assert stats.by_pass()["swapped"] == _counts(3, 2, 0, 1, 0)


def test_a_refinement_key_must_be_a_standardised_column() -> None:
    with pytest.raises(ValueError, match="'postcode' uses a key that is not a standardised column"):
        candidate_pairs(RECORDS, (BlockingPass("postcode", ("pc",), refine=("street",)),))


def test_linkage_yaml_passes_carry_refinement_keys_and_caps(tmp_path: Path) -> None:
    (tmp_path / "linkage.yaml").write_text(
        "blocking:\n  max_block_size: 50\n  passes:\n"
        "    - {name: postcode_year, keys: [pc, dob_y], refine: [dob_m, sn3], max_block_size: 80}\n"
        "    - {name: dob, keys: [dob_s]}\n", encoding="utf-8")
    config = load_linkage_config(tmp_path)
    assert passes_from_config(config) == (
        BlockingPass("postcode_year", ("pc", "dob_y"), None, ("dob_m", "sn3"), 80),
        BlockingPass("dob", ("dob_s",), None, (), None),
    )
    assert config.blocking.max_block_size == 50


def test_every_default_pass_can_subdivide() -> None:
    assert all(bp.refine for bp in DEFAULT_PASSES)
    for bp in DEFAULT_PASSES:
        assert not set(bp.refine) & set(bp.keys), bp.name


def test_record_ids_past_32_bits_are_refused() -> None:
    # a pair is kept as one 64-bit key, 32 bits a record id
    records = RECORDS.with_columns((pl.col("uid") + (1 << 32)).alias("uid"))
    with pytest.raises(ValueError, match="2\\*\\*32"):
        candidate_pairs(records, (BlockingPass("postcode", ("pc",)),), max_block_size=3)


def test_a_list_key_meets_through_any_member() -> None:
    # Hannah Mihal / Mihal Hannsh (swapped, one mistyped) and Ann Lee / Lee Bloggs meet on one name; Zoe Ray none
    records = pl.DataFrame({
        "uid": [0, 1, 2, 3, 4], "source": ["gp", "dental", "gp", "dental", "gp"],
        "any3": [["han", "mih"], ["mih", "han"], ["ann", "lee"], ["lee", "blo"], ["zoe", "ray"]],
        "street4": ["aspi", "aspi", "oakr", "oakr", "oakr"],
    })
    pairs, stats = candidate_pairs(records, (BlockingPass("any_street", ("any3", "street4")),))
    assert _pairs(pairs) == [(0, 1), (2, 3)]
    assert stats.by_pass()["any_street"]["pairs"] == 2


def test_a_list_key_block_over_the_cap_is_subdivided() -> None:
    records = pl.DataFrame({
        "uid": [0, 1, 2, 3], "source": ["gp", "dental", "gp", "dental"],
        "any3": [["smi", "amy"], ["smi", "bob"], ["smi", "amy"], ["smi", "cal"]],
        "dob_y": [1990, 1991, 1990, 1991],
    }, schema_overrides={"dob_y": pl.Int32})
    pairs, stats = candidate_pairs(records, (BlockingPass("any", ("any3",), refine=("dob_y",)),), max_block_size=3)
    # "smi" holds 4 records (over 3): by birth year, (0, 2) and (1, 3); "amy" holds 0 and 2 whole
    assert _pairs(pairs) == [(0, 2), (1, 3)]
    assert stats.by_pass()["any"] == _counts(2, 3, 0, 1, 0)


_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=9)
_NOT_NAMES = TITLES | PLACEHOLDER_FORENAMES


def _slip(word: str, data: st.DataObject, start: int) -> str:
    """One letter changed at or after ``start`` (first letters are the ones people get right)."""
    i = data.draw(st.integers(start, len(word) - 1))
    letter = data.draw(st.sampled_from([c for c in "abcdefghijklmnopqrstuvwxyz" if c != word[i]]))
    return word[:i] + letter + word[i + 1:]


def _second_record(first: dict, data: st.DataObject) -> dict:
    """The same person again, with one of name, date of birth and address (line and postcode) replaced or blank
    and the other two kept, each possibly mistyped (names also swapped or crossed into each other's field)."""
    second = dict(first)
    lost = data.draw(st.sampled_from(["name", "dob", "address"]))
    if lost == "name":
        second["forename"], second["surname"] = data.draw(st.sampled_from([(None, None), ("zzzq", "qqzx")]))
    else:
        which = data.draw(st.sampled_from(["forename", "surname", "none"]))
        if which != "none":
            second[which] = _slip(first[which], data, 3)
        if data.draw(st.booleans()):
            second["forename"], second["surname"] = second["surname"], second["forename"]
    if lost == "dob":
        second["dob"] = data.draw(st.sampled_from([None, dt.date(1901, 1, 1)]))
    elif data.draw(st.booleans()):
        d = first["dob"]
        second["dob"] = d.replace(day=d.day % 28 + 1) if data.draw(st.booleans()) else d.replace(month=d.month % 12 + 1)
    if lost == "address":
        second["address_line1"] = data.draw(st.sampled_from([None, "99 qqzx way"]))
        second["postcode"] = data.draw(st.sampled_from([None, "ZZ1 9QQ"]))
    elif data.draw(st.booleans()):
        number, street = first["address_line1"].split(" ", 1)
        second["address_line1"] = data.draw(st.sampled_from([street, f"{number} {_slip(street, data, 4)}"]))
    return second


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(forename=_NAME, surname=_NAME,
       dob=st.dates(dt.date(1920, 1, 1), dt.date(2020, 12, 28)).map(lambda d: d.replace(day=min(d.day, 28))),
       number=st.integers(1, 300), street=_NAME, postcode=st.sampled_from(["CH1 4BJ", "CW10 8DQ", "M1 1AE"]),
       data=st.data())
def test_the_generic_passes_find_a_pair_on_which_two_of_name_dob_and_address_agree(
        forename: str, surname: str, dob: dt.date, number: int, street: str, postcode: str,
        data: st.DataObject) -> None:
    assume(forename[:3] != surname[:3])
    first = {"forename": forename, "surname": surname, "dob": dob, "address_line1": f"{number} {street} road",
             "postcode": postcode}
    second = _second_record(first, data)
    # a word the standardiser reads as a title or a placeholder ("dame", "unknown") is no name to agree on
    assume(not {first["forename"], first["surname"], second["forename"], second["surname"]} & _NOT_NAMES)
    rows = [{"source": "gp", "record_id": "1", **first}, {"source": "dental", "record_id": "2", **second}]
    people = pl.DataFrame(rows, schema_overrides={"dob": pl.Date, "forename": pl.Utf8, "surname": pl.Utf8,
                                                  "address_line1": pl.Utf8, "postcode": pl.Utf8})
    std = standardise_people(people, NICKNAMES)
    pairs, _ = candidate_pairs(std, DEFAULT_PASSES)
    assert _pairs(pairs) == [(0, 1)], (first, second)
