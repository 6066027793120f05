"""Inline findings, people and leads for the digest tests: one or two findings per rule, one lead per service.

The findings are shaped exactly as ``findings.parquet`` rows (evidence as the rules write it); the people
are what ``landing/people.parquet`` holds for them. Names and NHS numbers are synthetic (test range).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl

from alerts.leads import load_leads
from alerts.need_to_know import NeedToKnow, RecordIndex
from alerts.sharing import load_sharing
from tests.helpers.config import config_folder

ROOT = Path(__file__).resolve().parents[2]
NIGHT = dt.date(2026, 11, 25)

LEADS_YAML = """
allowed_recipient_domains: [nhs.net]
presentation: {nhs_visible_digits: 4, show_record_ids: true, show_summary: false}
designated_professional: {name: Designated Nurse for Safeguarding Children, role: Designated professional,
                          email: designated@nhs.net}
data_engineering: {name: Data engineering, role: On call, email: data-eng@nhs.net}
leads:
  hv: {name: Health visiting safeguarding lead, role: Named nurse (health visiting), email: hv@nhs.net,
       covers: {services: [hv]}}
  sn: {name: School nursing safeguarding lead, role: Named nurse (school nursing), email: sn@nhs.net,
       covers: {services: [sn]}}
  camhs: {name: CAMHS safeguarding lead, role: Named professional (CAMHS), email: camhs@nhs.net,
          covers: {services: [camhs]}}
  gp: {name: Named GP for safeguarding, role: Named GP, email: gp@nhs.net, covers: {services: [gp]}}
  dental: {name: Dental safeguarding lead, role: Safeguarding lead (dental), email: dental@nhs.net,
           covers: {services: [dental]}}
  tp: {name: Turning Point safeguarding lead, role: Safeguarding lead (substance misuse), email: tp@nhs.net,
       covers: {services: [tp]}}
  amh: {name: Adult mental health safeguarding lead, role: Named professional (adult mental health),
        email: amh@nhs.net, covers: {services: [amh]}}
"""

PEOPLE = [
    # source, record_id, forename, surname, nhs_number, team, practice
    ("hv", "104500", "Sebastian", "Santos", "9997643305", "Chester Central HV", None),
    ("gp", "23695", "Sebastian", "Santos", "9997643305", None, "N81006"),
    ("sn", "515744", "Maisie", "Reid", "9993302713", "Chester SN", None),
    ("camhs", "RIO5654951", "Maisie", "REID", "9993302713", "West Cheshire CAMHS", None),
    ("gp", "697775", "Maisie", "Reid", "9993302713", None, "N81002"),
    ("dental", "P46697", "Maisie", "Reid", None, None, "Hoole Road Dental Practice"),
    ("sn", "753230", "Amelia", "Taylor", "9991566285", "Vale Royal SN", None),
    ("gp", "765630", "Amelia", "Taylor", "9991566285", None, "N81012"),
    ("tp", "TP17808", "Rachel", "Taylor", None, "Chantelle Reid", None),
    ("amh", "2271649", "Rachel", "Taylor", "9999667007", "CMHT Vale Royal", None),
    ("gp", "253587", "Rachel", "Taylor", "9999667007", None, "N81012"),
    ("tp", "TP94522", "Mark", "Walsh", None, "Gavin Pye", None),
    ("amh", "7672259", "Mark", "Walsh", "9994124226", "Primary Care Mental Health", None),
    ("hv", "863149", "Poppy", "Walsh", "9998834370", "Chester Central HV", None),
    ("sn", "661020", "Jack", "Walsh", "9990011226", "Chester SN", None),
]


def people_frame() -> pl.DataFrame:
    """The people records behind the findings."""
    return pl.DataFrame(PEOPLE, schema=["source", "record_id", "forename", "surname", "nhs_number", "team",
                                        "practice"], orient="row")


def _missed(source: str, record_id: str, day: str, kind: str, outcome: str, time: str | None) -> dict[str, Any]:
    return {"source": source, "record_id": record_id, "file": f"{source.upper()}_Appointments_20261125.csv",
            "row": 7, "date": day, "time": time, "type": kind, "outcome": outcome}


def _finding(fid: str, rule: str, evidence: dict[str, Any], child: list[str], adult: list[str],
             routes: list[str], confidence: float = 0.99) -> dict[str, Any]:
    return {"finding_id": fid, "rule": rule, "rule_version": "1", "child_person_id": "P1" if child else None,
            "adult_person_id": "P2" if adult else None, "first_seen": NIGHT, "last_seen": NIGHT, "status": "new",
            "evidence": json.dumps(evidence), "evidence_fingerprint": "fp", "link_confidence": confidence,
            "needs_confirmation": confidence < 0.5, "child_records": child, "adult_records": adult,
            "routes": routes, "summary": "machine summary (not shown)"}


def findings() -> dict[str, list[dict[str, Any]]]:
    """Findings per rule (the first one involving a recipient kind is the one its golden digest shows)."""
    school_child = ["camhs:RIO5654951", "dental:P46697", "gp:697775", "sn:515744"]
    rna_school = _finding("F00000000rna1", "repeated_non_attendance", {
        "rule": "repeated_non_attendance", "n_missed": 4, "n_sources": 3, "sources": ["camhs", "dental", "sn"],
        "lower_threshold_applied": False,
        "missed_appointments": [
            _missed("dental", "P46697", "2026-03-10", "Check-up", "FTA", "09:20"),
            _missed("dental", "P46697", "2026-06-02", "Check-up", "FTA", "15:40"),
            _missed("camhs", "RIO5654951", "2026-07-21", None, "3", "11:00"),
            _missed("sn", "515744", "2026-09-30", "Health Review", "WNB", "10:15")],
        "flagged_records": [{"source": "sn", "record_id": "515744", "file": "SN_Caseload_20261125.csv", "row": 4,
                             "child_protection_plan": False, "looked_after": True}],
    }, school_child, [], ["camhs:team:West Cheshire CAMHS", "dental:practice:Hoole Road Dental Practice",
                          "gp:practice:N81002", "sn:team:Chester SN"])
    rna_baby = _finding("F00000000rna2", "repeated_non_attendance", {
        "rule": "repeated_non_attendance", "n_missed": 2, "n_sources": 2, "sources": ["gp", "hv"],
        "lower_threshold_applied": True,
        "missed_appointments": [
            _missed("gp", "23695", "2026-08-18", "GP Appointment", "Did Not Attend", "12:50"),
            _missed("hv", "104500", "2026-10-01", "1 Year Review", "Was Not Brought", None)],
        "flagged_records": [{"source": "hv", "record_id": "104500", "file": "HV_Caseload_20261125.csv", "row": 2,
                             "child_protection_plan": True, "looked_after": False}],
    }, ["gp:23695", "hv:104500"], [], ["gp:practice:N81006", "hv:team:Chester Central HV"])
    sa = _finding("F0000000000sa", "significant_adult", {
        "rule": "significant_adult",
        "child_service_records": [{"source": "sn", "record_id": "753230", "file": "SN_Caseload_20261125.csv",
                                   "row": 20}],
        "adult_service_records": [
            {"service": "B", "source": "amh", "record_id": "2271649", "file": "AMH_Patients_20261125.csv", "row": 2,
             "is_open": False},
            {"service": "A", "source": "tp", "record_id": "TP17808", "file": "TP_Clients_20261125.csv", "row": 3,
             "is_open": True}],
        "links": [
            {"via": "gp_address", "source": "gp", "record_id": "253587", "file": "GP_RegisteredPatients_20261125.csv",
             "row": 109, "child_gp_record_id": "765630", "confidence": 0.99},
            {"via": "named_child", "source": "amh", "record_id": "2271649", "file": "AMH_Dependants_20261125.csv",
             "row": 3, "child_gp_record_id": None, "confidence": 0.99}],
        "related_people_rows_checked": [{"source": "sn", "record_id": "753230", "file": "SN_RelatedPeople_20261125.csv",
                                         "row": 21, "relationship": "Father", "matched_to_another_person": True}],
    }, ["gp:765630", "sn:753230"], ["amh:2271649", "gp:253587", "tp:TP17808"],
        ["amh:team:CMHT Vale Royal", "sn:team:Vale Royal SN", "tp:team:Chantelle Reid"])
    sa_hv = _finding("F00000000sahv", "significant_adult", {
        "rule": "significant_adult",
        "child_service_records": [{"source": "hv", "record_id": "104500", "file": "f", "row": 2}],
        "adult_service_records": [{"service": "A", "source": "tp", "record_id": "TP94522", "file": "f", "row": 7,
                                   "is_open": True}],
        "links": [{"via": "named_child", "source": "tp", "record_id": "TP94522", "file": "TP_Children_20261125.csv",
                   "row": 7, "child_gp_record_id": None, "confidence": 0.42}],
        "related_people_rows_checked": [],
    }, ["gp:23695", "hv:104500"], ["amh:7672259", "tp:TP94522"], ["hv:team:Chester Central HV", "tp:team:Gavin Pye"],
        confidence=0.42)
    dsp = _finding("F000000000dsp", "dual_service_parent", {
        "rule": "dual_service_parent",
        "open_record_pairs": [{
            "service_a": {"source": "tp", "record_id": "TP94522", "file": "TP_Clients_20261125.csv", "row": 7,
                          "parental_status": "Parent - children live with client", "other_services_known": None,
                          "names_service_b": False},
            "service_b": {"source": "amh", "record_id": "7672259", "file": "AMH_Patients_20261125.csv", "row": 8,
                          "has_dependent_children": "Yes", "substance_service_involved": "Unknown",
                          "names_service_a": False}}],
        "named_a_child": True,
        "named_children_rows": [{"source": "tp", "record_id": "TP94522", "file": "TP_Children_20261125.csv",
                                 "row": 7, "confidence": 0.99}],
    }, ["hv:863149"], ["amh:7672259", "tp:TP94522"],
        ["amh:team:Primary Care Mental Health", "hv:team:Chester Central HV", "tp:team:Gavin Pye"])
    dsp_sn = dict(dsp) | {"finding_id": "F00000000dsp2", "child_records": ["sn:661020"],
                          "routes": ["amh:team:Primary Care Mental Health", "sn:team:Chester SN",
                                     "tp:team:Gavin Pye"]}
    ui = _finding("F0000000000ui", "unshared_involvement", {
        "rule": "unshared_involvement",
        "open_record_pairs": [{
            "camhs": {"source": "camhs", "record_id": "RIO5654951", "file": "CAMHS_Referrals_20261125.csv", "row": 2,
                      "known_professionals": None, "camhs_names_service": False},
            "service": {"source": "sn", "record_id": "515744", "file": "SN_Caseload_20261125.csv", "row": 12,
                        "other_services_involved": "GP", "service_names_camhs": False}}],
    }, school_child, [], ["camhs:team:West Cheshire CAMHS", "sn:team:Chester SN"])
    ui_hv = _finding("F000000000ui2", "unshared_involvement", {
        "rule": "unshared_involvement",
        "open_record_pairs": [{
            "camhs": {"source": "camhs", "record_id": "RIO5654951", "camhs_names_service": True},
            "service": {"source": "hv", "record_id": "104500", "service_names_camhs": False}}],
    }, ["camhs:RIO5654951", "hv:104500"], [], ["camhs:team:West Cheshire CAMHS", "hv:team:Chester Central HV"])
    cc = _finding("F0000000000cc", "cumulative_concern", {
        "rule": "cumulative_concern", "n_rules": 2, "rules": ["repeated_non_attendance", "significant_adult"],
        "findings": [{"rule": "repeated_non_attendance", "finding_id": ["F00000000rna2"]},
                     {"rule": "significant_adult", "finding_id": ["F00000000sahv"]}],
    }, ["gp:23695", "hv:104500"], [], ["designated", "gp:practice:N81006", "hv:team:Chester Central HV",
                                       "tp:team:Gavin Pye"])
    return {"repeated_non_attendance": [rna_school, rna_baby], "significant_adult": [sa, sa_hv],
            "dual_service_parent": [dsp, dsp_sn], "unshared_involvement": [ui, ui_hv], "cumulative_concern": [cc]}


def write_config(folder: Path) -> Path:
    """A configuration folder with these leads and the shipped sharing matrix."""
    config_folder(folder, "sharing.yaml")
    (folder / "leads.yaml").write_text(LEADS_YAML, encoding="utf-8")
    return folder


def need_to_know(folder: Path, case_view_url: str = "") -> NeedToKnow:
    """The view builder over these leads, the shipped matrix and these people."""
    config = write_config(folder)
    return NeedToKnow(load_sharing(config), load_leads(config), RecordIndex(people_frame()), case_view_url)
