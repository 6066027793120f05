"""An eighth source from YAML alone: a community pharmacy's people and appointments flow through ingest, the
gate, linkage, repeated non-attendance, routing, digests and the report, with no code change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from ground.layout import NightLayout
from safelink.pipeline import Night, run_night
from tests.helpers.config import CONFIG_DIR
from tests.helpers.sample import SAMPLE_DATE, SAMPLE_LANDING

pytestmark = pytest.mark.slow

# A sample child: GP record EMIS 23695 (no missed appointment in the sample).
CHILD = {"EMIS": "23695", "NHS": "9990050856", "forename": "Zachary", "surname": "Lee", "dob": "15/03/2013",
         "street": "1 Park Place", "postcode": "CW9 2WD"}
PHARMACY = """
  pharmacy:
    label: Community pharmacy
    serves: everyone
    dob_rank: 7
    route: {kind: practice, field: practice}
    files:
      - name: Pharmacy_Patients
        table: people
        encoding: utf-8
        open_when: always
        fields:
          record_id: {column: Patient Ref, required: true}
          nhs_number: {column: NHS Number, parse: nhs_number}
          forename: {column: First Name}
          surname: {column: Last Name, required: true}
          dob: {column: DOB, parse: date, formats: ["%d/%m/%Y"]}
          address_line1: {column: Address}
          postcode: {column: Postcode, parse: postcode}
          practice: {column: Pharmacy}
      - name: Pharmacy_Appointments
        table: appointments
        encoding: utf-8
        fields:
          record_id: {column: Patient Ref, required: true}
          appt_date: {column: Date, parse: date, formats: ["%d/%m/%Y"], required: true}
          appt_type: {column: Service}
          outcome: {column: Outcome, parse: code, map: {Attended: attended, Did Not Attend: missed}}
"""
LEAD = """
  pharmacy:
    name: Community pharmacy safeguarding lead
    role: Pharmacist, safeguarding lead
    email: safelink.demo.pharmacy@nhs.net
    covers: {services: [pharmacy]}
"""


def _config(folder: Path) -> Path:
    """The shipped configuration plus the pharmacy, in YAML only."""
    shutil.copytree(CONFIG_DIR, folder)
    sources = folder / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8").rstrip() + "\n" + PHARMACY, encoding="utf-8")
    rules = yaml.safe_load((folder / "rules.yaml").read_text(encoding="utf-8"))
    rules["rules"]["repeated_non_attendance"]["missed_outcomes"]["pharmacy"] = ["Did Not Attend"]
    (folder / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    leads = folder / "leads.yaml"
    text = leads.read_text(encoding="utf-8")
    leads.write_text(text.replace("\nleads:\n", "\nleads:" + LEAD, 1), encoding="utf-8")
    sharing = yaml.safe_load((folder / "sharing.yaml").read_text(encoding="utf-8"))
    sharing["services"]["pharmacy"] = {"name": "Community pharmacy", "team_label": "pharmacy"}
    (folder / "sharing.yaml").write_text(yaml.safe_dump(sharing, sort_keys=False), encoding="utf-8")
    return folder


def _drop(folder: Path) -> Path:
    """The sample drop plus the pharmacy's two files: the child missed two pharmacy reviews and one GP slot."""
    night = folder / SAMPLE_DATE.isoformat()
    shutil.copytree(SAMPLE_LANDING / SAMPLE_DATE.isoformat(), night)
    stamp = SAMPLE_DATE.strftime("%Y%m%d")
    c = CHILD
    (night / f"Pharmacy_Patients_{stamp}.csv").write_text(
        "Patient Ref,NHS Number,First Name,Last Name,DOB,Address,Postcode,Pharmacy\n"
        f"PH001,{c['NHS']},{c['forename']},{c['surname']},{c['dob']},{c['street']},{c['postcode']},Castle Pharmacy\n"
        "PH002,,Ada,Pharmacyonly,01/01/1950,2 Mill Lane,CW9 5AA,Castle Pharmacy\n", encoding="utf-8")
    (night / f"Pharmacy_Appointments_{stamp}.csv").write_text(
        "Patient Ref,Date,Service,Outcome\n"
        "PH001,02/09/2026,Asthma inhaler review,Did Not Attend\n"
        "PH001,14/10/2026,Asthma inhaler review,Did Not Attend\n"
        "PH001,20/11/2026,Asthma inhaler review,Attended\n"
        "PH002,03/11/2026,New medicine service,Attended\n", encoding="utf-8")
    gp = night / f"GP_Appointments_{stamp}.csv"
    gp.write_text(gp.read_text(encoding="utf-8").rstrip("\r\n") + "\r\n"
                  f"{c['EMIS']},05-Nov-2026,09:10,Face to Face,Did Not Attend,Dr T Boyd\r\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> NightLayout:
    root = tmp_path_factory.mktemp("eighth")
    config = _config(root / "config")
    landing = _drop(root / "landing")
    run = Night(landing=landing, output=root / "out", extract_date=SAMPLE_DATE, config_dir=config,
                state_url=f"sqlite:///{root / 'state.sqlite'}")
    summary = run_night(run)
    assert "ingest_pharmacy" in summary.stages, summary.stages
    return NightLayout(run.night_dir)


def test_ingest_and_gate(night: NightLayout) -> None:
    people = pl.read_parquet(night.people).filter(pl.col("source") == "pharmacy")
    assert sorted(people.get_column("record_id").to_list()) == ["PH001", "PH002"]
    appointments = pl.read_parquet(night.appointments).filter(pl.col("source") == "pharmacy")
    assert appointments.get_column("outcome").sort().to_list() == ["attended", "attended", "missed", "missed"]
    gate = json.loads(night.gate("pharmacy").read_text(encoding="utf-8"))
    assert gate["status"] == "passed" and gate["failures"] == []


def test_linkage_joins_the_pharmacy_record_to_the_child(night: NightLayout) -> None:
    links = pl.read_csv(night.person_links, infer_schema=False)
    person = links.filter((pl.col("source") == "pharmacy") & (pl.col("record_id") == "PH001")).item(0, "person_id")
    same = links.filter(pl.col("person_id") == person).select("source", "record_id").sort("source").rows()
    assert ("gp", CHILD["EMIS"]) in same and ("pharmacy", "PH001") in same


def test_repeated_non_attendance_counts_pharmacy_and_routes_to_it(night: NightLayout) -> None:
    links = pl.read_csv(night.person_links, infer_schema=False)
    person = links.filter((pl.col("source") == "pharmacy") & (pl.col("record_id") == "PH001")).item(0, "person_id")
    findings = pl.read_parquet(night.findings).filter(
        (pl.col("rule") == "repeated_non_attendance") & (pl.col("child_person_id") == person))
    assert findings.height == 1
    evidence = json.loads(findings.item(0, "evidence"))
    assert evidence["sources"] == ["gp", "pharmacy"] and evidence["n_missed"] == 3
    assert "pharmacy:practice:Castle Pharmacy" in findings.item(0, "routes").to_list()
    contract = pl.read_csv(night.findings_csv, infer_schema=False)
    assert contract.filter((pl.col("rule") == "repeated_non_attendance")
                           & (pl.col("child_person_id") == person)).height == 1


def test_the_pharmacy_lead_gets_a_digest_and_the_report_lists_the_source(night: NightLayout) -> None:
    digest = night.outbox / f"pharmacy_{SAMPLE_DATE.isoformat()}.eml"
    assert digest.is_file()
    assert "Castle Pharmacy" in digest.read_text(encoding="utf-8", errors="replace")
    report = night.report.read_text(encoding="utf-8")
    assert "pharmacy" in report
