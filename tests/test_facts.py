"""Each rule's evidence as plain-English facts per service: exact expected facts from inline evidence."""

from __future__ import annotations

import datetime as dt
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from alerts.facts import Fact, finding_facts, long_date, period
from alerts.rules import (
    cumulative_concern,
    dual_service_parent,
    repeated_non_attendance,
    significant_adult,
    unshared_involvement,
)

RNA_EVIDENCE = {
    "rule": "repeated_non_attendance", "n_missed": 3, "n_sources": 2, "sources": ["gp", "hv"],
    "lower_threshold_applied": True,
    "missed_appointments": [
        {"source": "gp", "record_id": "745316", "file": "GP_Appointments_20261125.csv", "row": 1539,
         "date": "2025-12-27", "time": "13:50", "type": "GP Appointment", "outcome": "Did Not Attend"},
        {"source": "hv", "record_id": "635336", "file": "HV_Contacts_20261125.csv", "row": 103,
         "date": "2026-04-14", "time": None, "type": "Targeted Home Visit", "outcome": "No Access Visit"},
        {"source": "hv", "record_id": "635336", "file": "HV_Contacts_20261125.csv", "row": 104,
         "date": "2026-04-23", "time": None, "type": "Clinic", "outcome": "Was Not Brought"},
    ],
    "flagged_records": [{"source": "hv", "record_id": "635336", "file": "HV_Caseload_20261125.csv", "row": 28,
                         "child_protection_plan": True, "looked_after": False}],
}


def test_dates_are_long_and_periods_to_the_month() -> None:
    assert long_date(dt.date(2026, 4, 4)) == "4 April 2026"
    assert period([dt.date(2026, 4, 23), dt.date(2026, 4, 14)]) == "in April 2026"
    assert period([dt.date(2026, 8, 18), dt.date(2025, 12, 27)]) == "between December 2025 and August 2026"


def test_repeated_non_attendance_facts() -> None:
    found = repeated_non_attendance.present(RNA_EVIDENCE, {}, {})
    assert found.headline == ("The child was not brought to (or did not attend) 3 appointments at 2 services "
                              "between December 2025 and April 2026.")
    assert found.facts == [
        Fact("missed_count", "gp", "1 missed appointment in December 2025.", records=("gp:745316",)),
        Fact("missed_dates", "gp", "", own_text="Missed on: 27 December 2025 (GP Appointment).",
             records=("gp:745316",)),
        Fact("missed_count", "hv", "2 missed appointments in April 2026.", records=("hv:635336",)),
        Fact("missed_dates", "hv", "", own_text="Missed on: 14 April 2026 (Targeted Home Visit); 23 April 2026 "
             "(Clinic).", records=("hv:635336",)),
        Fact("protection_flag", "hv", "Records that the child is on a child protection plan, so the lower "
             "threshold for such children applies (fewer missed appointments are enough).",
             records=("hv:635336",)),
    ]


def test_flag_not_used_by_the_rule_is_not_a_fact() -> None:
    found = repeated_non_attendance.present(RNA_EVIDENCE | {"lower_threshold_applied": False}, {}, {})
    assert "protection_flag" not in {f.kind for f in found.facts}


def test_significant_adult_facts() -> None:
    evidence = {
        "child_service_records": [{"source": "sn", "record_id": "753230", "file": "f", "row": 20}],
        "adult_service_records": [
            {"service": "B", "source": "amh", "record_id": "2271649", "file": "f", "row": 2, "is_open": False},
            {"service": "A", "source": "tp", "record_id": "TP17808", "file": "f", "row": 3, "is_open": True}],
        "links": [{"via": "gp_address", "source": "gp", "record_id": "253587", "file": "f", "row": 109,
                   "child_gp_record_id": "765630", "confidence": 1.0}],
        "related_people_rows_checked": [{"source": "sn", "record_id": "753230", "relationship": "Father",
                                         "matched_to_another_person": True}],
    }
    facts = significant_adult.present(evidence, {}, {}).facts
    assert [(f.kind, f.service, f.text) for f in facts] == [
        ("child_open", "sn", "The child is open to this service."),
        ("adult_known", "amh", "The adult has a closed record with this service."),
        ("adult_known", "tp", "The adult has an open record with this service."),
        ("link", "gp", "The adult and the child are registered with a GP at the same address."),
        ("not_on_related_people", "sn", "The adult is not on this service's record of the child's related people."),
    ]
    assert facts[-1].own_text == ("The adult is not on your record of the child's related people (1 related person "
                                  "recorded, none of them this adult).")


def test_dual_service_parent_facts() -> None:
    evidence = {"open_record_pairs": [{
        "service_a": {"source": "tp", "record_id": "TP94522", "parental_status": "Parent - children live with client",
                      "other_services_known": None, "names_service_b": False},
        "service_b": {"source": "amh", "record_id": "7672259", "has_dependent_children": "No",
                      "substance_service_involved": "Unknown", "names_service_a": False}}],
        "named_a_child": True, "named_children_rows": [{"source": "amh", "record_id": "7672259", "row": 10}]}
    facts = dual_service_parent.present(evidence, {"child_records": ["hv:863149", "gp:933593"]}, {}).facts
    assert [(f.kind, f.service, f.told_to(own=True)) for f in facts] == [
        ("adult_open", "tp", "The parent is open to your service."),
        ("parent", "tp", "Your record says the adult is a parent (Parent - children live with client)."),
        ("not_shared", "tp", "Your record does not list mental health services among the other services known to "
                             "the client."),
        ("adult_open", "amh", "The parent is open to your service."),
        ("not_shared", "amh", "Your record does not show substance misuse service involvement (recorded as: "
                              "Unknown)."),
        ("parent", "amh", "The adult named a child on your record."),
        ("child_service", "hv", "The parent's child is open to your service."),
    ]


def test_unshared_involvement_facts() -> None:
    evidence = {"open_record_pairs": [{
        "camhs": {"source": "camhs", "record_id": "RIO5654951", "known_professionals": None,
                  "camhs_names_service": False},
        "service": {"source": "sn", "record_id": "515744", "other_services_involved": "CAMHS;GP",
                    "service_names_camhs": True}}]}
    facts = unshared_involvement.present(evidence, {}, {}).facts
    assert [(f.kind, f.service, f.text) for f in facts] == [
        ("child_open", "camhs", "The child has an open referral here."),
        ("child_open", "sn", "The child is on this caseload."),
        ("not_shared", "camhs", "This service's record does not list school nursing."),
    ]


def test_cumulative_concern_facts() -> None:
    evidence = {"rule": "cumulative_concern", "n_rules": 2, "rules": ["repeated_non_attendance", "significant_adult"],
                "findings": [{"rule": "repeated_non_attendance", "finding_id": ["F1"]},
                             {"rule": "significant_adult", "finding_id": ["F2"]}]}
    found = cumulative_concern.present(evidence, {"child_records": ["hv:1", "gp:2"]},
                                       {"repeated_non_attendance": "Missed", "significant_adult": "Adult"})
    assert found.headline == "This child is named tonight by findings of 2 different safeguarding rules."
    assert [(f.kind, f.service, f.text) for f in found.facts] == [
        ("rules_found", None, "Tonight's findings about this child: Missed; Adult."),
        ("child_service", "gp", "The child is known to this service."),
        ("child_service", "hv", "The child is known to this service."),
    ]


def test_unknown_rule_gets_a_headline_and_no_facts() -> None:
    found = finding_facts({"rule": "new_rule", "evidence": "{}"}, {})
    assert found.headline == "A finding of the rule 'new_rule'." and found.facts == []


_TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\b")


@given(st.lists(st.tuples(st.sampled_from(["hv", "sn", "gp", "dental", "camhs"]),
                          st.dates(dt.date(2025, 1, 1), dt.date(2026, 12, 31)),
                          st.times().map(lambda t: t.strftime("%H:%M")),
                          st.sampled_from(["DNA", "FTA", "3", "Did Not Attend"])), min_size=1, max_size=8))
def test_no_time_of_day_and_no_outcome_code_in_any_fact(rows: list[tuple[str, dt.date, str, str]]) -> None:
    evidence = {"lower_threshold_applied": False, "missed_appointments": [
        {"source": s, "record_id": "R1", "date": d.isoformat(), "time": t, "outcome": o, "type": None}
        for s, d, t, o in rows]}
    text = json.dumps([(f.text, f.own_text) for f in repeated_non_attendance.present(evidence, {}, {}).facts])
    assert not _TIME.search(text)
    assert not re.search(r"\b(DNA|FTA|Did Not Attend)\b", text)
