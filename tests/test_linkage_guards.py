"""Clustering guards: twins, parent/child namesakes, conflicting verified NHS numbers, same source."""

from __future__ import annotations

import datetime as dt

import polars as pl

from linkage.cluster import cluster_links, pair_guards
from linkage.compare import LEVELS
from linkage.evidence import GuardEvidence, guard_evidence


def lv(comp: str, name: str) -> int:
    return LEVELS[comp].index(name)


def records(n: int, **cols: list) -> pl.DataFrame:
    base: dict[str, list] = {
        "uid": list(range(n)), "source": ["gp"] * n, "dob": [dt.date(2020, 1, 1)] * n,
        "dob_y": [2020] * n, "nhs": [None] * n, "nhs_verified": [False] * n,
        "sn": ["smith"] * n, "dob_s": ["01012020"] * n, "fn_key": [f"name{i}" for i in range(n)],
    }
    base.update(cols)
    return pl.DataFrame(base, schema_overrides={"nhs": pl.Utf8, "dob_y": pl.Int32})


def _guard_case() -> tuple[pl.DataFrame, pl.DataFrame]:
    recs = records(
        6, dob_y=[2015, 2015, 1985, 2015, 2015, 2015],
        nhs=["9434765919", "9990001112", None, None, "9434765919", "4010232137"],
        nhs_verified=[True, True, False, False, True, True],
        dob_s=["01012015", "01012015", "01011985", "01012015", "01012015", "01012015"],
        fn_key=["mia", "mia", "mia", "ava", "mia", "mia"],
    )
    pairs = pl.DataFrame(
        {
            "uid_l": [0, 0, 3, 0, 4],
            "uid_r": [3, 2, 1, 1, 5],
            "forename": [lv("forename", "different"), lv("forename", "exact"), lv("forename", "exact"),
                         lv("forename", "exact"), lv("forename", "exact")],
            "surname": [lv("surname", "exact")] * 5,
            "dob": [lv("dob", "exact"), lv("dob", "different"), lv("dob", "one_digit"), lv("dob", "exact"),
                    lv("dob", "exact")],
            "location": [lv("location", "postcode_and_address")] * 5,
        }
    )
    return recs, pairs


def test_pair_guards_with_evidence_of_a_twin_and_a_namesake() -> None:
    recs, pairs = _guard_case()
    evidence = GuardEvidence(twins=pl.DataFrame({"sn": ["smith"], "dob_s": ["01012015"]}),
                             namesakes=pl.DataFrame({"fn_key": ["mia"], "sn": ["smith"]}))
    out = pair_guards(pairs, recs, evidence=evidence).select("uid_l", "uid_r", "pair_guard")
    expected = pl.DataFrame(
        {"uid_l": [0, 0, 3, 0, 4], "uid_r": [3, 2, 1, 1, 5],
         # twins; namesake (30 years apart); one-digit DOB error: not a namesake; verified NHS differ
         "pair_guard": ["twins", "namesake", None, "nhs_conflict", "nhs_conflict"]}
    )
    assert out.equals(expected)


def test_pair_guards_without_evidence_leave_the_model_to_decide() -> None:
    # no second child with that surname and birth date: the twins guard stays quiet; the same names a
    # generation apart under one roof go to review (namesake_doubt); two verified NHS numbers still conflict
    recs, pairs = _guard_case()
    out = pair_guards(pairs, recs).select("uid_l", "uid_r", "pair_guard")
    expected = pl.DataFrame({"uid_l": [0, 0, 3, 0, 4], "uid_r": [3, 2, 1, 1, 5],
                             "pair_guard": [None, "namesake_doubt", None, "nhs_conflict", "nhs_conflict"]})
    assert out.equals(expected)
    # the same names born 30 years apart at different addresses, with no evidence: the model decides
    apart = pairs.with_columns(pl.lit(lv("location", "different")).cast(pl.Int64).alias("location"))
    assert pair_guards(apart, recs)["pair_guard"].to_list() == [None, None, None, "nhs_conflict", "nhs_conflict"]


def test_guard_evidence_from_one_source_and_from_mentions() -> None:
    # gp holds twins Mia and Ava at one postcode (evidence); hv holds Leo alone, but his sibling row names
    # Max born the same day (evidence); dental holds Isla and a slip "Isl a" (one phonetic key: no evidence).
    # gp also holds John Smith born 1980 and 2012 at one address (namesake evidence).
    std = pl.DataFrame({
        "uid": [0, 1, 2, 3, 4, 5, 6],
        "source": ["gp", "gp", "hv", "dental", "dental", "gp", "gp"],
        "record_id": ["1", "2", "3", "4", "5", "6", "7"],
        "sn": ["smith", "smith", "jones", "brown", "brown", "smith", "smith"],
        "fn_key": ["mia", "ava", "leo", "isla", "isl", "john", "john"],
        "fn_ph": ["M", "AF", "L", "ISL", "ISL", "JN", "JN"],
        "dob_s": ["01012020", "01012020", "02022019", "03032018", "03032018", "04041980", "05052012"],
        "dob_y": [2020, 2020, 2019, 2018, 2018, 1980, 2012],
        "pc": ["CH14BJ", "CH14BJ", "CH25XX", "CH36YY", "CH36YY", "CH14BJ", "CH14BJ"],
        "addr": [None] * 7,
    })
    # Leo's record also names his father, Leo Jones, with no date of birth: two people of that name
    mentioned = pl.DataFrame({
        "owner_source": ["hv", "hv"], "owner_record_id": ["3", "3"], "sn": ["jones", "jones"],
        "fn_key": ["max", "leo"], "fn_ph": ["MKS", "L"], "dob_s": ["02022019", None], "dob_y": [2019, None],
    })
    ev = guard_evidence(std, mentioned)
    assert ev.twins.sort("sn").to_dicts() == [{"sn": "jones", "dob_s": "02022019"},
                                              {"sn": "smith", "dob_s": "01012020"}]
    assert ev.namesakes.to_dicts() == [{"fn_key": "john", "sn": "smith"}, {"fn_key": "leo", "sn": "jones"}]


def test_twins_never_merged_through_a_third_record() -> None:
    # twin A (0) and twin B (1) both link to an ambiguous record (2); A-B is a cannot-link pair.
    recs = records(3, source=["gp", "gp", "hv"])
    links = pl.DataFrame({"uid_l": [0, 1], "uid_r": [2, 2], "weight": [20.0, 15.0]})
    cannot = pl.DataFrame({"uid_l": [0], "uid_r": [1], "pair_guard": ["twins"]})
    res = cluster_links(3, links, cannot, recs, frozenset({"gp"}))
    assert res.labels.tolist() == [0, 1, 0]
    assert res.accepted.tolist() == [True, False]
    assert res.cut_reason == [None, "twins"]


def test_twins_guard_does_not_stop_a_link_whose_records_agree_on_the_forename() -> None:
    # gp "Samantha" (0) and amh "Ssm" (1) share an NHS number; tp "Samantha" (2) has none. tp and amh look
    # like twins (same DOB, surname, place; forenames differ), but tp and gp agree on the forename: the
    # amh forename is a slip, and tp joins. A link whose records do not agree on it (a blank forename)
    # is still stopped.
    recs = records(3, source=["gp", "amh", "tp"])
    cannot = pl.DataFrame({"uid_l": [1], "uid_r": [2], "pair_guard": ["twins"]})
    for agrees, labels in ((True, [0, 0, 0]), (False, [0, 0, 1])):
        links = pl.DataFrame({"uid_l": [0, 0], "uid_r": [1, 2], "weight": [31.0, 25.0],
                              "forename_agrees": [True, agrees]})
        res = cluster_links(3, links, cannot, recs, frozenset())
        assert res.labels.tolist() == labels
        assert res.cut_reason == [None, None if agrees else "twins"]


def test_conflicting_verified_nhs_split_on_weakest_link() -> None:
    recs = records(
        3, source=["hv", "gp", "dental"], nhs=["9434765919", "9990001112", None],
        nhs_verified=[True, True, False],
    )
    links = pl.DataFrame({"uid_l": [0, 1], "uid_r": [2, 2], "weight": [12.0, 25.0]})
    res = cluster_links(3, links, recs.head(0).select(
        pl.col("uid").alias("uid_l"), pl.col("uid").alias("uid_r"), pl.lit("x").alias("pair_guard")), recs,
        frozenset({"gp", "dental"}))
    assert res.labels.tolist() == [0, 1, 1]
    assert res.cut_reason == ["nhs_conflict", None]
    assert dict(res.guard_counts) == {"nhs_conflict": 1}


def test_unverified_nhs_difference_does_not_split() -> None:
    recs = records(2, source=["hv", "gp"], nhs=["9434765919", "9990001112"], nhs_verified=[False, True])
    links = pl.DataFrame({"uid_l": [0], "uid_r": [1], "weight": [20.0]})
    empty = pl.DataFrame(schema={"uid_l": pl.Int64, "uid_r": pl.Int64, "pair_guard": pl.Utf8})
    res = cluster_links(2, links, empty, recs, frozenset({"gp"}))
    assert res.labels.tolist() == [0, 0]


def test_same_source_guards() -> None:
    recs = records(
        4, source=["hv", "hv", "gp", "gp"],
        dob=[dt.date(2020, 1, 1), dt.date(2020, 1, 1), dt.date(2020, 1, 1), dt.date(2021, 1, 1)],
    )
    empty = pl.DataFrame(schema={"uid_l": pl.Int64, "uid_r": pl.Int64, "pair_guard": pl.Utf8})
    # hv 0 and hv 1 both match gp 2: second hv record is cut (hv never holds duplicates)
    links = pl.DataFrame({"uid_l": [0, 1, 2], "uid_r": [2, 2, 3], "weight": [30.0, 20.0, 10.0]})
    res = cluster_links(4, links, empty, recs, frozenset({"gp"}))
    assert res.cut_reason == [None, "same_source", "same_source_dob"]
    assert res.labels.tolist() == [0, 1, 0, 2]
