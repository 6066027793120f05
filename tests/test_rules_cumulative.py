"""``cumulative_concern``: a child named by findings of at least two different rules on one night."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from alerts.rules import cumulative_concern
from alerts.rules.config import default_rules
from alerts.rules.frames import DESIGNATED_ROUTE, FINDING_SCHEMA, RuleInputs
from tests.helpers.config import config_folder
from tests.test_rules_units import _child, _dual, appt, mention, rec, rows, run

D = dt.date(2026, 11, 25)


def _earlier(rows_: list[tuple[str, str | None, str | None, float, list[str]]]) -> pl.DataFrame:
    """Findings of the other rules: (rule, child, adult, link_confidence, routes), with ids."""
    frame = pl.DataFrame(
        [{"rule": r, "child_person_id": c, "adult_person_id": a, "link_confidence": conf, "routes": routes,
          "evidence": "{}", "child_records": [], "adult_records": [], "summary": ""}
         for r, c, a, conf, routes in rows_],
        schema=FINDING_SCHEMA,
    )
    return frame.with_columns(pl.format("F-{}-{}", "rule", pl.col("child_person_id").fill_null("")).alias("finding_id"))


def _inputs() -> RuleInputs:
    records = pl.DataFrame({"person_id": ["C1", "C1", "C2", "A1"], "ref": ["hv:1", "gp:10", "sn:2", "tp:TP1"]})
    empty = pl.DataFrame()
    return RuleInputs(extract_date=D, records=records, persons=empty, appointments=empty, mentions=empty,
                      nicknames=empty)


def test_two_rules_make_one_finding_with_the_union_of_routes_and_the_designated() -> None:
    earlier = _earlier([
        ("repeated_non_attendance", "C1", None, 1.0, ["gp:practice:P1", "hv:team:T1"]),
        ("significant_adult", "C1", "A1", 0.9, ["hv:team:T1", "tp:team:TP"]),
        ("significant_adult", "C1", "A2", 0.8, ["amh:team:AMH"]),
        ("unshared_involvement", "C2", None, 1.0, ["sn:team:S"]),
    ])
    got = cumulative_concern.detect(_inputs(), default_rules(), earlier)
    assert got.select("rule", "child_person_id", "adult_person_id", "link_confidence", "child_records",
                      "routes").to_dicts() == [{
        "rule": "cumulative_concern", "child_person_id": "C1", "adult_person_id": None, "link_confidence": 0.9,
        "child_records": ["gp:10", "hv:1"],
        "routes": sorted(["amh:team:AMH", DESIGNATED_ROUTE, "gp:practice:P1", "hv:team:T1", "tp:team:TP"]),
    }]
    evidence = pl.Series([got.item(0, "evidence")]).str.json_decode().item()
    assert evidence["rules"] == ["repeated_non_attendance", "significant_adult"]
    assert [f["finding_id"] for f in evidence["findings"]] == [
        ["F-repeated_non_attendance-C1"], ["F-significant_adult-C1", "F-significant_adult-C1"]]


def test_one_rule_twice_is_not_cumulative() -> None:
    earlier = _earlier([("significant_adult", "C1", "A1", 1.0, []), ("significant_adult", "C1", "A2", 1.0, [])])
    assert cumulative_concern.detect(_inputs(), default_rules(), earlier).is_empty()


def test_an_adult_only_finding_names_no_child() -> None:
    earlier = _earlier([("dual_service_parent", None, "A1", 1.0, []), ("repeated_non_attendance", "C1", None, 1.0, [])])
    assert cumulative_concern.detect(_inputs(), default_rules(), earlier).is_empty()


def test_confidence_is_the_second_best_rule() -> None:
    """Confirmed only when two rules name the child with confirmed findings."""
    earlier = _earlier([("repeated_non_attendance", "C1", None, 1.0, []), ("significant_adult", "C1", "A1", 0.3, []),
                        ("unshared_involvement", "C1", None, 0.2, [])])
    got = cumulative_concern.detect(_inputs(), default_rules(), earlier)
    assert got.get_column("link_confidence").to_list() == [0.3]


def test_night_child_named_by_dual_service_parent_and_unshared(tmp_path: Path) -> None:
    """The child a dual_service_parent finding names counts for that rule."""
    records = [*_dual(), rec("sn", "2", "C2", dob=dt.date(2015, 1, 1), other_services=None),
               rec("camhs", "RIO1", "C2", other_services=None)]
    named = [mention("amh", "9", "dependant", "C", "D", mentioned="C2")]
    got = run(tmp_path, records, mentions=named)
    assert rows(got, "dual_service_parent") == [("dual_service_parent", "C2", "A1")]
    assert rows(got, "cumulative_concern") == [("cumulative_concern", "C2", "")]


def test_night_one_rule_alone_makes_no_cumulative_finding(tmp_path: Path) -> None:
    appts = [appt("gp", "10", 5, "Did Not Attend"), appt("dental", "P1", 6, "FTA"), appt("hv", "1", 7, "WNB")]
    got = run(tmp_path, _child(), [*appts, appt("hv", "1", 8, "Was Not Brought")])
    assert rows(got) == [("repeated_non_attendance", "C1", "")]


def test_disabling_cumulative_concern(tmp_path: Path) -> None:
    config = config_folder(tmp_path / "config")
    (config / "rules.yaml").write_text("rules:\n  cumulative_concern:\n    enabled: false\n", encoding="utf-8")
    records = [*_dual(), rec("sn", "2", "C2", dob=dt.date(2015, 1, 1), other_services=None),
               rec("camhs", "RIO1", "C2", other_services=None)]
    got = run(tmp_path, records, mentions=[mention("amh", "9", "dependant", "C", "D", mentioned="C2")],
              config_dir=config)
    assert rows(got, "cumulative_concern") == []
    assert rows(got, "dual_service_parent") == [("dual_service_parent", "C2", "A1")]
