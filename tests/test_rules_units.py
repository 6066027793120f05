"""Each rule at its boundaries, on small hand-built frames written to a temporary night folder."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from alerts.rules import detect_night
from alerts.rules.config import default_rules, load_rules
from alerts.rules.frames import names_service
from ground.config import ConfigError
from landing.ingest import APPOINTMENT_COLUMNS, MENTION_COLUMNS, PEOPLE_COLUMNS
from tests.helpers.config import config_folder
from tests.helpers.sample import CONFIG_DIR

D = dt.date(2026, 11, 25)
FORBIDDEN = ("mental health", "substance", "drug", "alcohol", "turning point")
_rows = itertools.count(2)

CHILD_DOB = dt.date(2020, 5, 1)
ADULT_DOB = dt.date(1990, 3, 3)
FILES = {"hv": "HV", "sn": "SN", "camhs": "CAMHS", "gp": "GP", "dental": "Dental", "tp": "TP", "amh": "AMH"}


def rec(source: str, record_id: str, person_id: str, dob: dt.date | None = CHILD_DOB, **kw: Any) -> dict[str, Any]:
    """A people record; ``person_id`` and ``link_confidence`` go to the linkage file."""
    row = {"source": source, "record_id": record_id, "file": f"{FILES[source]}_People_20261125.csv",
           "row": next(_rows), "forename": "Sam", "surname": "Smith", "dob": dob, "is_open": True,
           "team": f"{source.upper()} Team", "practice": f"{source.upper()} Practice", "flags": [],
           "person_id": person_id, "link_confidence": 1.0}
    row.update(kw)
    if kw.get("end_date") is not None and "is_open" not in kw:
        row["is_open"] = False
    return row


def appt(source: str, record_id: str, days_back: int, outcome_raw: str, owner_known: bool = True) -> dict[str, Any]:
    """An appointment ``days_back`` days before the extract date."""
    return {"source": source, "record_id": record_id, "file": f"{FILES[source]}_Appointments_20261125.csv",
            "row": next(_rows), "appt_date": D - dt.timedelta(days=days_back), "outcome_raw": outcome_raw,
            "outcome": "missed", "owner_known": owner_known}


def mention(source: str, owner: str, kind: str, forename: str | None, surname: str | None,
            mentioned: str | None = None, confidence: float = 1.0, owner_person: str | None = None,
            **kw: Any) -> dict[str, Any]:
    """A mention row with its resolution (``mentioned`` person, None when unresolved)."""
    row = {"source": source, "owner_record_id": owner, "file": f"{FILES[source]}_Mentions_20261125.csv",
           "row": next(_rows), "kind": kind, "forename": forename, "surname": surname, "owner_known": True,
           "mentioned_person_id": mentioned, "mention_confidence": confidence if mentioned else 0.0,
           "owner_person_id": owner_person}
    row.update(kw)
    return row


def write_night(root: Path, records: list[dict[str, Any]], appts: list[dict[str, Any]] | None = None,
                mentions: list[dict[str, Any]] | None = None, day: dt.date = D,
                missing: tuple[str, ...] = ()) -> Path:
    """Write landing and linkage parquet files for one night; returns the night folder."""
    night = root / day.isoformat()
    (night / "landing").mkdir(parents=True, exist_ok=True)
    (night / "linkage").mkdir(parents=True, exist_ok=True)
    people = pl.DataFrame([{k: v for k, v in r.items() if k in PEOPLE_COLUMNS} for r in records],
                          schema=PEOPLE_COLUMNS)
    people.write_parquet(night / "landing" / "people.parquet")
    pl.DataFrame(
        [{"source": r["source"], "record_id": r["record_id"], "person_id": r["person_id"], "cluster_size": 1,
          "link_confidence": r["link_confidence"]} for r in records],
        schema={"source": pl.String, "record_id": pl.String, "person_id": pl.String, "cluster_size": pl.Int64,
                "link_confidence": pl.Float64},
    ).write_parquet(night / "linkage" / "records.parquet")
    pl.DataFrame([{k: v for k, v in a.items() if k in APPOINTMENT_COLUMNS} for a in appts or []],
                 schema=APPOINTMENT_COLUMNS).write_parquet(night / "landing" / "appointments.parquet")
    owner_of = {(r["source"], r["record_id"]): r["person_id"] for r in records}
    ments = [{**m, "owner_person_id": m["owner_person_id"] or owner_of.get((m["source"], m["owner_record_id"]))}
             for m in mentions or []]
    schema = {**MENTION_COLUMNS, "owner_person_id": pl.String(), "mentioned_person_id": pl.String(),
              "mention_confidence": pl.Float64()}
    landing_mentions = pl.DataFrame([{k: v for k, v in m.items() if k in MENTION_COLUMNS} for m in ments],
                                    schema=MENTION_COLUMNS)
    landing_mentions.write_parquet(night / "landing" / "mentions.parquet")
    pl.DataFrame([{k: v for k, v in m.items() if k in schema} for m in ments], schema=schema).write_parquet(
        night / "linkage" / "mentions.parquet")
    if missing:
        pl.DataFrame(
            [{"source": s, "status": "missing" if s in missing else "ok"} for s in FILES],
        ).write_parquet(night / "landing" / "files.parquet")
    return night


def run(tmp_path: Path, records: list[dict[str, Any]], appts: list[dict[str, Any]] | None = None,
        mentions: list[dict[str, Any]] | None = None, config_dir: Path = CONFIG_DIR) -> pl.DataFrame:
    """Write a night, detect, and return findings.csv as (rule, child, adult) rows, sorted."""
    night = write_night(tmp_path, records, appts, mentions)
    detect_night(night, config_dir, f"sqlite:///{tmp_path / 'state.sqlite'}", D)
    return (
        pl.read_csv(night / "findings.csv", infer_schema=False)
        .select("rule", pl.col("child_person_id").fill_null(""), pl.col("adult_person_id").fill_null(""))
        .sort(pl.all())
    )


def rows(frame: pl.DataFrame, rule: str | None = None) -> list[tuple[str, str, str]]:
    """The findings as tuples (of one rule when given)."""
    if rule is not None:
        frame = frame.filter(pl.col("rule") == rule)
    return [tuple(r) for r in frame.iter_rows()]  # type: ignore[misc]


# ----------------------------------------------------------------------------- repeated_non_attendance

def _child() -> list[dict[str, Any]]:
    return [rec("hv", "1", "C1"), rec("gp", "10", "C1"), rec("dental", "P1", "C1")]


@pytest.mark.parametrize(("missed", "expected"), [
    ([("gp", "10", 5, "Did Not Attend"), ("dental", "P1", 6, "FTA")], []),
    ([("gp", "10", 5, "Did Not Attend"), ("dental", "P1", 6, "FTA"), ("hv", "1", 7, "No Access Visit")],
     [("repeated_non_attendance", "C1", "")]),
    ([("gp", "10", 5, "Did Not Attend")] * 3, []),  # three missed but one source
    ([("gp", "10", 5, "Did Not Attend"), ("gp", "10", 9, "Did Not Attend"), ("dental", "P1", 6, "FTA")],
     [("repeated_non_attendance", "C1", "")]),
    # cancellations are not missed appointments
    ([("gp", "10", 5, "Did Not Attend"), ("dental", "P1", 6, "FTA"), ("gp", "10", 7, "Cancelled by Patient"),
      ("dental", "P1", 8, "Cancelled (Practice)"), ("hv", "1", 3, "Cancelled by Parent")], []),
])
def test_rna_two_vs_three_and_sources(tmp_path: Path, missed: list[tuple[str, str, int, str]],
                                      expected: list[tuple[str, str, str]]) -> None:
    got = run(tmp_path, _child(), [appt(s, r, d, o) for s, r, d, o in missed])
    assert rows(got) == expected


@pytest.mark.parametrize(("days_back", "fires"), [(0, True), (364, True), (365, False), (366, False), (-1, False)])
def test_rna_window_boundary(tmp_path: Path, days_back: int, fires: bool) -> None:
    appts = [appt("gp", "10", 5, "Did Not Attend"), appt("dental", "P1", 6, "FTA"),
             appt("gp", "10", days_back, "Did Not Attend")]
    got = run(tmp_path, _child(), appts)
    assert rows(got) == ([("repeated_non_attendance", "C1", "")] if fires else [])


@pytest.mark.parametrize(("flag", "n_missed", "fires"), [
    ({"cp_plan": True}, 2, True),
    ({"looked_after": True}, 2, True),
    ({"cp_plan": True}, 1, False),
    ({"cp_plan": False, "looked_after": False}, 2, False),
])
def test_rna_cp_plan_or_looked_after_lowers_threshold(tmp_path: Path, flag: dict[str, bool], n_missed: int,
                                                      fires: bool) -> None:
    records = [rec("sn", "5", "C1", **flag), rec("gp", "10", "C1")]
    appts = [appt("gp", "10", 10 + i, "Did Not Attend") for i in range(n_missed)]  # one source only
    got = run(tmp_path, records, appts)
    assert rows(got) == ([("repeated_non_attendance", "C1", "")] if fires else [])


def test_rna_codes_per_source(tmp_path: Path) -> None:
    # camhs 3 and 7 count, 2/4/5/6 do not; sn DNA and WNB count
    records = [rec("camhs", "RIO1", "C1", end_date=dt.date(2026, 11, 1)), rec("sn", "5", "C1")]
    appts = [appt("camhs", "RIO1", 1, "3"), appt("camhs", "RIO1", 2, "7"), appt("camhs", "RIO1", 3, "2"),
             appt("camhs", "RIO1", 4, "4"), appt("sn", "5", 5, "DNA")]
    assert rows(run(tmp_path, records, appts)) == [("repeated_non_attendance", "C1", "")]


@pytest.mark.parametrize(("dob", "fires"), [
    (dt.date(2008, 11, 26), True),   # 17, turns 18 tomorrow
    (dt.date(2008, 11, 25), False),  # 18 today: an adult
])
def test_rna_child_is_under_18_on_extract_date(tmp_path: Path, dob: dt.date, fires: bool) -> None:
    records = [rec("sn", "5", "C1", dob=dob), rec("gp", "10", "C1", dob=dob)]
    appts = [appt("gp", "10", 1, "Did Not Attend"), appt("gp", "10", 2, "Did Not Attend"), appt("sn", "5", 3, "WNB")]
    assert rows(run(tmp_path, records, appts)) == ([("repeated_non_attendance", "C1", "")] if fires else [])


def test_rna_rows_of_set_aside_owner_never_count(tmp_path: Path) -> None:
    appts = [appt("gp", "10", 1, "Did Not Attend"), appt("dental", "P1", 2, "FTA"),
             appt("hv", "1", 3, "Was Not Brought", owner_known=False)]
    assert rows(run(tmp_path, _child(), appts)) == []


def test_rna_evidence_and_routes(tmp_path: Path) -> None:
    appts = [appt("gp", "10", 1, "Did Not Attend"), appt("dental", "P1", 2, "FTA"), appt("hv", "1", 3, "WNB")]
    appts[2]["outcome_raw"] = "Was Not Brought"
    run(tmp_path, _child(), appts)
    rich = pl.read_parquet(tmp_path / D.isoformat() / "findings.parquet").row(0, named=True)
    assert rich["routes"] == ["dental:practice:DENTAL Practice", "gp:practice:GP Practice", "hv:team:HV Team"]
    assert rich["child_records"] == ["dental:P1", "gp:10", "hv:1"]
    assert rich["adult_records"] == []
    assert '"outcome":"Did Not Attend"' in rich["evidence"] and '"record_id":"P1"' in rich["evidence"]
    assert rich["summary"].startswith("3 missed appointments in the last 365 days across 3 services")


# ----------------------------------------------------------------------------- significant_adult

def _family(**adult_kw: Any) -> list[dict[str, Any]]:
    adult = {"forename": "Robert", "surname": "Jones", **adult_kw}
    return [
        rec("hv", "1", "C1", forename="Mia", surname="Jones"),
        rec("tp", "TP1", "A1", dob=ADULT_DOB, end_date=dt.date(2025, 1, 1), **adult),  # closed: still counts
    ]


def _named(mentioned: str | None = "C1") -> dict[str, Any]:
    return mention("tp", "TP1", "named_child", "Mia", "Jones", mentioned=mentioned)


@pytest.mark.parametrize(("related", "expected"), [
    ([], [("significant_adult", "C1", "A1")]),
    # on the record, resolved by linkage
    ([mention("hv", "1", "related_person", "Robert", "Jones", mentioned="A1")], []),
    # on the record under a nickname, left unresolved: the name fallback finds him
    ([mention("hv", "1", "related_person", "Bob", "Jones")], []),
    # unresolved rows with a typing error in the forename, or under a changed surname
    ([mention("hv", "1", "related_person", "Robet", "Jones")], []),
    ([mention("hv", "1", "related_person", "Robert", "O'Brien")], []),
    # the parent named only by forename (surname blank), unresolved: he is on the record
    ([mention("hv", "1", "related_person", "Robert", None)], []),
    ([mention("hv", "1", "related_person", "Bob", None)], []),
    # unresolved row naming someone else
    ([mention("hv", "1", "related_person", "Karen", "Jones")], [("significant_adult", "C1", "A1")]),
    ([mention("hv", "1", "related_person", "Karen", None)], [("significant_adult", "C1", "A1")]),
    # same name but a different date of birth: not him
    ([mention("hv", "1", "related_person", "Bob", "Jones", dob=dt.date(1960, 1, 1))],
     [("significant_adult", "C1", "A1")]),
    # a related row resolved to another person does not count for him
    ([mention("hv", "1", "related_person", "Karen", "Jones", mentioned="A9")], [("significant_adult", "C1", "A1")]),
])
def test_sa_named_child_and_related_people(tmp_path: Path, related: list[dict[str, Any]],
                                           expected: list[tuple[str, str, str]]) -> None:
    got = run(tmp_path, _family(), mentions=[_named(), *related])
    assert rows(got) == expected


def test_sa_evidence_lists_the_related_rows_checked(tmp_path: Path) -> None:
    related = [mention("hv", "1", "related_person", "Karen", "Jones", mentioned="A9", relationship="Mother"),
               mention("hv", "1", "related_person", "Dean", "Hall", relationship="Father")]
    run(tmp_path, _family(), mentions=[_named(), *related])
    rich = pl.read_parquet(tmp_path / D.isoformat() / "findings.parquet").filter(pl.col("rule") == "significant_adult")
    rows_checked = json.loads(rich["evidence"][0])["related_people_rows_checked"]
    assert [(r["relationship"], r["matched_to_another_person"]) for r in rows_checked] == [
        ("Mother", True), ("Father", False)]


def test_sa_adult_known_as_nickname(tmp_path: Path) -> None:
    # the tp record's Known As is what the hv record calls him
    records = _family(forename="Kenneth", known_as="Sparky")
    related = mention("hv", "1", "related_person", "Sparky", "Jones")
    assert rows(run(tmp_path, records, mentions=[_named(), related])) == []


def test_sa_unresolved_named_child_does_not_link(tmp_path: Path) -> None:
    assert rows(run(tmp_path, _family(), mentions=[_named(mentioned=None)])) == []


@pytest.mark.parametrize(("child_addr", "adult_addr", "fires"), [
    (("12 High Street", "CH1 4BJ"), ("12  high  street ", "ch14bj"), True),
    (("12 High Street", "CH1 4BJ"), ("12 High Street", "CH1 4BX"), False),
    (("12 High Street", "CH1 4BJ"), ("14 High Street", "CH1 4BJ"), False),
    (("12 High Street", None), ("12 High Street", None), False),
])
def test_sa_same_gp_address(tmp_path: Path, child_addr: tuple[str, str | None], adult_addr: tuple[str, str | None],
                            fires: bool) -> None:
    records = [
        *_family(),
        rec("gp", "10", "C1", address_line1=child_addr[0], postcode_raw=child_addr[1]),
        rec("gp", "20", "A1", dob=ADULT_DOB, address_line1=adult_addr[0], postcode_raw=adult_addr[1]),
    ]
    assert rows(run(tmp_path, records)) == ([("significant_adult", "C1", "A1")] if fires else [])


def test_sa_child_must_be_open_to_hv_or_sn(tmp_path: Path) -> None:
    records = [rec("gp", "10", "C1"), rec("tp", "TP1", "A1", dob=ADULT_DOB)]
    assert rows(run(tmp_path, records, mentions=[_named()])) == []


def test_sa_adult_must_be_18(tmp_path: Path) -> None:
    records = [rec("hv", "1", "C1"), rec("amh", "9", "A1", dob=dt.date(2008, 11, 26))]
    named = mention("amh", "9", "dependant", "Mia", "Jones", mentioned="C1")
    assert rows(run(tmp_path, records, mentions=[named])) == []


def test_sa_low_confidence_link_needs_confirmation(tmp_path: Path) -> None:
    got = run(tmp_path, _family(), mentions=[{**_named(), "mention_confidence": 0.49}])
    assert rows(got) == []
    rich = pl.read_parquet(tmp_path / D.isoformat() / "findings.parquet")
    assert rich.select("rule", "needs_confirmation", "link_confidence").rows() == [("significant_adult", True, 0.49)]


def test_sa_link_at_the_review_threshold_is_stated(tmp_path: Path) -> None:
    got = run(tmp_path, _family(), mentions=[{**_named(), "mention_confidence": 0.5}])
    assert rows(got) == [("significant_adult", "C1", "A1")]


# ----------------------------------------------------------------------------- dual_service_parent

def _dual(tp_kw: dict[str, Any] | None = None, amh_kw: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    tp = {"parental_status": "Parent - children live with client", "other_services": None, **(tp_kw or {})}
    amh = {"has_dependent_children": "Not asked", "substance_service_involved": "Unknown", **(amh_kw or {})}
    return [rec("tp", "TP1", "A1", dob=ADULT_DOB, **tp), rec("amh", "9", "A1", dob=ADULT_DOB, **amh)]


@pytest.mark.parametrize(("tp_kw", "amh_kw", "fires"), [
    ({}, {}, True),
    ({"other_services": "GP;CMHT"}, {"substance_service_involved": "Yes"}, False),
    ({"other_services": "Community Mental Health Team"}, {"substance_service_involved": "Yes"}, False),
    ({"other_services": "amh"}, {"substance_service_involved": "Yes"}, False),
    ({"other_services": "CMHT"}, {"substance_service_involved": "No"}, True),   # amh does not show tp
    ({"other_services": "GP"}, {"substance_service_involved": "Yes"}, True),    # tp does not show amh
    ({"other_services": "CMHT Chester"}, {"substance_service_involved": "Yes"}, True),  # CMHT is a whole part
    ({"end_date": dt.date(2026, 1, 1)}, {}, False),                               # tp episode closed
    ({}, {"end_date": dt.date(2026, 11, 24)}, False),                             # amh referral closed
    ({"parental_status": "Not a parent"}, {}, False),
    ({"parental_status": "Not recorded"}, {"has_dependent_children": "Yes"}, True),
])
def test_dual_service_parent(tmp_path: Path, tp_kw: dict[str, Any], amh_kw: dict[str, Any], fires: bool) -> None:
    got = run(tmp_path, _dual(tp_kw, amh_kw))
    assert rows(got) == ([("dual_service_parent", "", "A1")] if fires else [])


def test_dual_parent_only_by_naming_a_child_by_forename(tmp_path: Path) -> None:
    records = [*_dual({"parental_status": "Not recorded"}), rec("hv", "1", "C1", forename="Mia")]
    forename_only = mention("tp", "TP1", "named_child", "Mia", None, mentioned="C1")
    got = run(tmp_path, records, mentions=[forename_only])
    assert rows(got, "dual_service_parent") == [("dual_service_parent", "C1", "A1")]


def test_dual_unresolved_named_child_makes_a_parent_without_a_child(tmp_path: Path) -> None:
    records = _dual({"parental_status": "Not recorded"})
    forename_only = mention("amh", "9", "dependant", "Mia", None)
    assert rows(run(tmp_path, records, mentions=[forename_only])) == [("dual_service_parent", "", "A1")]


def test_dual_names_the_eldest_named_child(tmp_path: Path) -> None:
    records = [*_dual(), rec("hv", "1", "C1", dob=dt.date(2024, 1, 1)), rec("sn", "2", "C2", dob=dt.date(2015, 1, 1))]
    named = [mention("tp", "TP1", "named_child", "A", "B", mentioned="C1"),
             mention("amh", "9", "dependant", "C", "D", mentioned="C2")]
    got = run(tmp_path, records, mentions=named)
    assert rows(got, "dual_service_parent") == [("dual_service_parent", "C2", "A1")]
    rich = pl.read_parquet(tmp_path / D.isoformat() / "findings.parquet").filter(
        pl.col("rule") == "dual_service_parent").row(0, named=True)
    assert rich["routes"] == ["amh:team:AMH Team", "hv:team:HV Team", "sn:team:SN Team", "tp:team:TP Team"]


def test_dual_twins_the_one_listed_first_where_both_are_listed(tmp_path: Path) -> None:
    # twins C2 and C3: tp names only C3; amh lists C2 before C3, so C2 is the elder by the family's order
    twins = dt.date(2020, 12, 26)
    records = [*_dual(), rec("hv", "2", "C2", dob=twins), rec("sn", "3", "C3", dob=twins)]
    named = [mention("tp", "TP1", "named_child", "Maisie", "Lee", mentioned="C3"),
             mention("amh", "9", "dependant", "Wayne", "Lee", mentioned="C2"),
             mention("amh", "9", "dependant", "Maisie", "Lee", mentioned="C3")]
    assert rows(run(tmp_path, records, mentions=named), "dual_service_parent") == [
        ("dual_service_parent", "C2", "A1")]


def test_dual_eldest_by_the_date_most_records_give(tmp_path: Path) -> None:
    # Dylan's gp record swaps day and month (2019-04-06); his school nurse record and his parent's row
    # give 2019-06-04, so Aisha (2019-06-02) is the elder
    records = [*_dual(), rec("gp", "1", "C1", dob=dt.date(2019, 6, 2)),
               rec("gp", "2", "C2", dob=dt.date(2019, 4, 6)), rec("sn", "3", "C2", dob=dt.date(2019, 6, 4))]
    named = [mention("tp", "TP1", "named_child", "Aisha", "Mensah", mentioned="C1", dob=dt.date(2019, 6, 2)),
             mention("tp", "TP1", "named_child", "Dylan", "Mensah", mentioned="C2", dob=dt.date(2019, 6, 4))]
    assert rows(run(tmp_path, records, mentions=named), "dual_service_parent") == [
        ("dual_service_parent", "C1", "A1")]


# ----------------------------------------------------------------------------- unshared_involvement

@pytest.mark.parametrize(("camhs_kw", "sn_other", "fires"), [
    ({"other_services": None}, "CAMHS", True),
    ({"other_services": "School Nurse"}, "CAMHS", False),
    ({"other_services": "gp; sn "}, "GP;camhs team", False),
    ({"other_services": "School Nursing"}, "GP", True),
    ({"other_services": "Health Visitor"}, "CAMHS", True),   # names hv, not sn
    ({"other_services": "SNT"}, "CAMHS", True),              # SN is a whole part
    ({"other_services": None, "end_date": dt.date(2026, 11, 24)}, None, False),  # camhs closed
])
def test_unshared_involvement(tmp_path: Path, camhs_kw: dict[str, Any], sn_other: str | None, fires: bool) -> None:
    records = [rec("camhs", "RIO1", "C1", dob=dt.date(2012, 1, 1), **camhs_kw),
               rec("sn", "5", "C1", dob=dt.date(2012, 1, 1), other_services=sn_other)]
    assert rows(run(tmp_path, records)) == ([("unshared_involvement", "C1", "")] if fires else [])


def test_unshared_needs_a_child(tmp_path: Path) -> None:
    records = [rec("camhs", "RIO1", "C1", dob=dt.date(2008, 11, 25)), rec("sn", "5", "C1", dob=dt.date(2008, 11, 25))]
    assert rows(run(tmp_path, records)) == []


# ----------------------------------------------------------------------------- services and config

@pytest.mark.parametrize(("text", "service", "named"), [
    ("CAMHS", "camhs", True), ("West Cheshire camhs team", "camhs", True), (None, "camhs", False),
    ("SN", "sn", True), ("GP; school nurse", "sn", True), ("SNT", "sn", False), ("Nursing", "sn", False),
    ("HV", "hv", True), ("Health Visiting", "hv", True), ("HVT", "hv", False),
    ("CMHT", "mental_health", True), ("Adult Mental Health Services", "mental_health", True),
    ("AMH", "mental_health", True), ("CMHT Chester", "mental_health", False), ("", "mental_health", False),
])
def test_names_service(text: str | None, service: str, named: bool) -> None:
    terms = default_rules().service_terms[service]  # type: ignore[index]
    frame = pl.DataFrame({"t": [text]}, schema={"t": pl.String})
    assert frame.select(names_service(pl.col("t"), terms)).item() is named


def test_shipped_config_equals_contract_defaults() -> None:
    assert load_rules(CONFIG_DIR) == default_rules()


def test_config_errors_name_file_key_and_allowed(tmp_path: Path) -> None:
    (config_folder(tmp_path) / "rules.yaml").write_text(
        "rules:\n  repeated_non_attendance:\n    missed_outcomes:\n      school: [DNA]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules(tmp_path)
    message = str(info.value)
    assert "rules.yaml" in message
    assert "rules.repeated_non_attendance.missed_outcomes.school" in message
    assert "'hv'" in message and "'dental'" in message


def test_config_changes_threshold(tmp_path: Path) -> None:
    config = config_folder(tmp_path / "config")
    (config / "rules.yaml").write_text("rules:\n  repeated_non_attendance:\n    min_missed: 2\n", encoding="utf-8")
    appts = [appt("gp", "10", 5, "Did Not Attend"), appt("dental", "P1", 6, "FTA")]
    assert rows(run(tmp_path, _child(), appts, config_dir=config)) == [("repeated_non_attendance", "C1", "")]


def test_disabled_rule_is_not_applied(tmp_path: Path) -> None:
    config = config_folder(tmp_path / "config")
    (config / "rules.yaml").write_text("rules:\n  dual_service_parent:\n    enabled: false\n", encoding="utf-8")
    assert rows(run(tmp_path, _dual(), config_dir=config)) == []


def test_summaries_have_no_adult_service_words(tmp_path: Path) -> None:
    records = [*_dual(), *_family(), rec("sn", "5", "C1", other_services=None),
               rec("camhs", "RIO1", "C1"), rec("gp", "10", "C1"), rec("dental", "P1", "C1")]
    appts = [appt("gp", "10", 1, "Did Not Attend"), appt("dental", "P1", 2, "FTA"), appt("sn", "5", 3, "WNB")]
    run(tmp_path, records, appts, mentions=[_named()])
    rich = pl.read_parquet(tmp_path / D.isoformat() / "findings.parquet")
    assert set(rich.get_column("rule")) == {"repeated_non_attendance", "significant_adult", "dual_service_parent",
                                            "unshared_involvement", "cumulative_concern"}
    for summary in rich.get_column("summary"):
        assert not any(word in summary.lower() for word in FORBIDDEN), summary
        assert "Robert" not in summary and "Jones" not in summary
