"""The data-quality gate: suites run through GX, quarantine flow, batch gate, docs, safe CSV."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from checks.config import load_checks
from checks.docs import render_validation_docs
from checks.gate import excluded_sources, read_gate, validate_source
from ground.config import ConfigError
from ground.outputs import mark_complete
from ground.safe_csv import escape_cell, write_safe_csv
from ground.sources import SourcesConfig
from landing.ingest import combine_sources, ingest_source
from tests.helpers.sample import CONFIG_DIR, SAMPLE_DATE, SAMPLE_LANDING
from tests.test_checks_support import (
    NIGHT,
    assert_conserved,
    config_dir,
    csv_text,
    gp_row,
    hv_contact,
    hv_row,
    make_drop,
    quarantine_of,
    run_source,
)

GP_APPT = "1,01-Jan-2026,10:00,X,Finished,Dr"


@pytest.fixture(scope="module")
def sample_gated(tmp_path_factory: pytest.TempPathFactory, sources_config: SourcesConfig) -> Path:
    night = tmp_path_factory.mktemp("gate") / SAMPLE_DATE.isoformat()
    for source in sources_config.sources:
        ingest_source(SAMPLE_LANDING, SAMPLE_DATE, sources_config, source, night)
        validate_source(night, source, CONFIG_DIR, SAMPLE_DATE)
    combine_sources(night, sources_config, exclude=excluded_sources(night, list(sources_config.sources)))
    render_validation_docs(night)
    return night


def test_sample_passes_every_gate_and_sets_nothing_more_aside(sample_gated: Path,
                                                               sources_config: SourcesConfig) -> None:
    for source in sources_config.sources:
        gate = read_gate(sample_gated, source)
        assert gate.passed, (source, gate.failures)
        assert gate.set_aside_by_checks == 0
        assert_conserved(sample_gated, source)
    quarantine = pl.read_csv(sample_gated / "checks" / "quarantine.csv")
    assert quarantine.height == 4  # exactly the four broken rows of the truth file


def test_results_json_summarises_each_expectation_without_values(sample_gated: Path) -> None:
    results = json.loads((sample_gated / "checks" / "hv" / "results.json").read_text())
    suites = {(s["suite"], s["file"]) for s in results["suites"]}
    assert ("hv.people", "HV_Caseload_20261125.csv") in suites
    assert ("hv.appointments", "HV_Contacts_20261125.csv") in suites
    assert ("hv.files", None) in suites
    # the header checks run in the files batch (one row per file), not in a suite per file
    files = next(s for s in results["suites"] if s["suite"] == "hv.files")
    assert {"columns_present", "columns_known"} <= {e["check"] for e in files["expectations"]}
    assert all(f["missing_columns"] == 0 and f["layout_differences"] == 0 for f in results["files"])
    people = next(s for s in results["suites"] if s["suite"] == "hv.people")
    checks = {e["check"]: e for e in people["expectations"]}
    assert {"identifier_present", "identifier_unique", "surname_present", "dob_possible", "age_plausible",
            "nhs_number_valid", "nhs_status_coded", "postcode_format"} <= set(checks)
    assert checks["nhs_number_valid"]["expectation"] == "expect_column_values_to_be_valid_nhs_number"
    for entry in checks.values():
        assert {"success", "observed", "unexpected_count", "allowed"} <= set(entry)
        assert "unexpected_list" not in entry and "partial_unexpected_list" not in entry


def test_validation_html_is_self_contained(sample_gated: Path) -> None:
    html = (sample_gated / "checks" / "validation.html").read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "hv.people" in html and "passed" in html


def test_impossible_old_dob_is_set_aside_by_gx_once_and_counts_still_add_up(
    tmp_path: Path, sources_config: SourcesConfig
) -> None:
    rows = [hv_row(1), hv_row(2, dob="01/01/1890"), *[hv_row(i) for i in range(3, 40)]]
    landing = make_drop(tmp_path, {"HV_Caseload": "\ufeff" + csv_text("HV_Caseload", rows, "\r\n"),
                                   "HV_Contacts": "\ufeff" + csv_text("HV_Contacts", [hv_contact(2)], "\r\n")})
    night, status, gate = run_source(tmp_path, landing, "hv", sources_config)
    assert quarantine_of(night, "hv") == [{
        "file": "HV_Caseload_20261125.csv", "row": 3, "column": "Date of Birth",
        "value": "<masked: 10 characters>", "reason": "impossible_date", "check": "gx:hv.people:dob_possible"}]
    assert gate.set_aside_by_checks == 1
    people = pl.read_parquet(night / "landing" / "sources" / "hv" / "people.parquet")
    assert "2" not in people.get_column("record_id").to_list()
    contacts = pl.read_parquet(night / "landing" / "sources" / "hv" / "appointments.parquet")
    assert contacts.get_column("owner_known").to_list() == [False]
    # idempotent: a second run moves nothing more
    again = validate_source(night, "hv", CONFIG_DIR, NIGHT)
    assert again.set_aside_by_checks == 0
    assert_conserved(night, "hv")
    assert status.files[0].quarantined == 1


def test_flag_level_checks_keep_rows_and_warn(tmp_path: Path, sources_config: SourcesConfig) -> None:
    rows = [hv_row(i, nhs="943 476 5910", postcode="NOTAPC", dob="01/01/2010") for i in range(1, 6)]
    landing = make_drop(tmp_path, {"HV_Caseload": csv_text("HV_Caseload", rows),
                                   "HV_Contacts": csv_text("HV_Contacts", [hv_contact(1)])})
    _night, status, gate = run_source(tmp_path, landing, "hv", sources_config)
    assert status.files[0].accepted == 5 and status.files[0].quarantined == 0
    warned = {w.check for w in gate.warnings}
    assert {"nhs_number_valid", "postcode_format", "age_plausible"} <= warned
    age = next(w for w in gate.warnings if w.check == "age_plausible")
    assert "5 of 5 rows unexpected" in age.message and "aged 0-5" in age.allowed
    assert gate.passed  # flag-level only: the source is still used


def test_more_than_five_percent_set_aside_fails_the_source(tmp_path: Path, sources_config: SourcesConfig) -> None:
    rows = [gp_row(i, surname="" if i % 16 == 0 else "Cox") for i in range(1, 101)]
    landing = make_drop(tmp_path, {"GP_RegisteredPatients": csv_text("GP_RegisteredPatients", rows),
                                   "GP_Appointments": csv_text("GP_Appointments", [GP_APPT])})
    night, _, gate = run_source(tmp_path, landing, "gp", sources_config)
    assert gate.status == "failed"
    failure = next(f for f in gate.failures if f.check == "quarantined_share")
    assert failure.file == "GP_RegisteredPatients_20261125.csv"
    assert failure.observed == "6 of 100 rows set aside (6.0%)" and failure.allowed == "at most 5%"
    assert "checks/quarantine.csv" in failure.message
    assert json.loads((night / "checks" / "gp" / "gate.json").read_text())["passed"] is False
    assert excluded_sources(night, ["gp"]) == {"gp"}


def _gp_night(root: Path, date: dt.date, patients: int, config: SourcesConfig, complete: bool = True) -> None:
    rows = [gp_row(i) for i in range(1, patients + 1)]
    landing = make_drop(root, {"GP_RegisteredPatients": csv_text("GP_RegisteredPatients", rows),
                               "GP_Appointments": csv_text("GP_Appointments", [GP_APPT])},
                        date=date)
    night, _, _ = run_source(root, landing, "gp", config, date=date)
    if complete:  # an earlier night whose run finished
        mark_complete(night, {})


def test_an_earlier_night_whose_run_did_not_finish_is_never_the_comparison(
        tmp_path: Path, sources_config: SourcesConfig) -> None:
    _gp_night(tmp_path, dt.date(2026, 11, 20), 60, sources_config)
    _gp_night(tmp_path, dt.date(2026, 11, 23), 100, sources_config, complete=False)  # killed mid-run
    rows = [gp_row(i) for i in range(1, 61)]
    landing = make_drop(tmp_path, {"GP_RegisteredPatients": csv_text("GP_RegisteredPatients", rows),
                                   "GP_Appointments": csv_text("GP_Appointments", [GP_APPT])})
    _, _, gate = run_source(tmp_path, landing, "gp", sources_config)
    assert gate.previous_night == "2026-11-20" and gate.passed


def test_row_count_drop_against_previous_night_is_an_alarm(tmp_path: Path, sources_config: SourcesConfig) -> None:
    _gp_night(tmp_path, dt.date(2026, 11, 20), 100, sources_config)  # an older night
    _gp_night(tmp_path, dt.date(2026, 11, 23), 100, sources_config)  # the most recent earlier night
    rows = [gp_row(i) for i in range(1, 61)]
    landing = make_drop(tmp_path, {"GP_RegisteredPatients": csv_text("GP_RegisteredPatients", rows),
                                   "GP_Appointments": csv_text("GP_Appointments", [GP_APPT])})
    _, _, gate = run_source(tmp_path, landing, "gp", sources_config)
    assert gate.previous_night == "2026-11-23"
    alarm = next(f for f in gate.failures if f.check == "row_count_band")
    assert alarm.observed == "60 rows against 100 on 2026-11-23 (-40%)"
    assert "row count alarm" in alarm.message and gate.status == "failed"


def test_row_count_within_band_passes(tmp_path: Path, sources_config: SourcesConfig) -> None:
    _gp_night(tmp_path, dt.date(2026, 11, 24), 100, sources_config)
    rows = [gp_row(i) for i in range(1, 91)]
    landing = make_drop(tmp_path, {"GP_RegisteredPatients": csv_text("GP_RegisteredPatients", rows),
                                   "GP_Appointments": csv_text("GP_Appointments", [GP_APPT])})
    _, _, gate = run_source(tmp_path, landing, "gp", sources_config)
    assert gate.passed, gate.failures


def test_thresholds_come_from_checks_yaml(tmp_path: Path, sources_config: SourcesConfig) -> None:
    configuration = config_dir(tmp_path, "batch:\n  max_quarantined_share: 0.5\n")
    rows = [gp_row(1), gp_row(2, surname=""), gp_row(3)]
    landing = make_drop(tmp_path, {"GP_RegisteredPatients": csv_text("GP_RegisteredPatients", rows),
                                   "GP_Appointments": csv_text("GP_Appointments", [GP_APPT])})
    _, _, gate = run_source(tmp_path, landing, "gp", sources_config, configuration=configuration)
    assert gate.passed, gate.failures


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("batch:\n  max_quarantined_share: 2\n", r"at batch.max_quarantined_share: Input should be less than or equal"),
        ("batch:\n  colour: blue\n", r"at batch.colour: Extra inputs are not permitted"),
        ("identifiers:\n  hv: '(['\n", r"not a regular expression"),
        ("batch: [\n", r"not valid YAML"),
    ],
)
def test_checks_yaml_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_checks(path)
    assert str(path) in str(caught.value)


def test_shipped_checks_yaml_is_valid() -> None:
    checks = load_checks(CONFIG_DIR / "checks.yaml")
    assert checks.batch.max_quarantined_share == 0.05
    assert checks.ages["hv"].max == 5


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"), ("+1", "'+1"), ("-2", "'-2"),
     ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("Smith", "Smith"), ("", ""), (5, 5), (None, None)],
)
def test_escape_cell(cell: object, expected: object) -> None:
    assert escape_cell(cell) == expected


def test_write_safe_csv_escapes_every_string_cell(tmp_path: Path) -> None:
    frame = pl.DataFrame({"a": ["=1+1", "ok"], "b": [1, 2], "c": [["@x", "y"], []]})
    path = write_safe_csv(frame, tmp_path / "out.csv")
    back = pl.read_csv(path)
    assert back.get_column("a").to_list() == ["'=1+1", "ok"]
    assert back.get_column("c").to_list()[0] == "'@x;y"


def _grouped_case(kind: str, codes: list[str], rows: int = 400) -> pl.DataFrame:
    """A file's accepted rows with every kind of defect the appointment / mention suites look for."""
    rng = random.Random(11)
    ids, dates, outcomes, known = [], [], [], []
    for i in range(rows):
        ids.append(None if i % 97 == 5 else str(rng.randint(1, 60)))
        roll = rng.random()
        dates.append(None if roll < 0.02 else dt.date(2030, 1, 1) if roll < 0.05 else dt.date(1890, 5, 1)
                     if roll < 0.06 else NIGHT - dt.timedelta(days=rng.randint(0, 900)))
        outcomes.append(None if i % 50 == 3 else "ZZ" if i % 150 == 7 else rng.choice(codes))
        known.append(rng.random() > 0.08)
    frame = pl.DataFrame({"row": list(range(2, rows + 2)), "file": ["x.csv"] * rows, "owner_known": known})
    if kind == "appointments":
        return frame.with_columns(pl.Series("record_id", ids, pl.String), pl.Series("appt_date", dates, pl.Date),
                                  pl.Series("outcome_raw", outcomes, pl.String))
    return frame.with_columns(pl.Series("owner_record_id", ids, pl.String), pl.Series("dob", dates, pl.Date))


@pytest.mark.parametrize("kind", ["appointments", "mentions"])
def test_grouped_validation_counts_rows_exactly_as_a_row_by_row_run(kind: str, sources_config: SourcesConfig) -> None:
    from checks.gate import _index_rows, _run_grouped, _runner, _validation_frame, groupable
    from checks.suites import rows_suite

    spec = next(f for f in sources_config.sources["hv"].files if f.table == kind)
    suite = rows_suite("hv", spec, load_checks(CONFIG_DIR / "checks.yaml"), NIGHT, True)
    assert groupable(suite)
    codes = [str(k) for k in (spec.fields["outcome"].map or {})] if "outcome" in spec.fields else ["x"]
    frame = _grouped_case(kind, codes)
    grouped = _run_grouped(_runner(), suite, kind, frame, spec)
    by_row = _runner().run(suite, _validation_frame(suite, kind, frame, spec))
    outcomes = set()
    for check in suite.checks:
        mine, gx_rows = grouped[check.name], by_row[check.name]
        assert mine["error"] is None and gx_rows["error"] is None
        assert mine["success"] == gx_rows["success"], check.name
        outcomes.add(mine["success"])
        for key in ("element_count", "unexpected_count", "missing_count"):
            assert mine["result"].get(key) == gx_rows["result"].get(key), (check.name, key)
        for key in ("unexpected_percent", "missing_percent"):
            assert mine["result"].get(key) == pytest.approx(gx_rows["result"].get(key)), (check.name, key)
        assert _index_rows(mine["result"]) == sorted(_index_rows(gx_rows["result"])), check.name
    assert outcomes == {True, False}  # some checks pass, some fail: both sides of mostly are compared


def test_people_suites_are_validated_row_by_row(sources_config: SourcesConfig) -> None:
    from checks.gate import groupable
    from checks.suites import rows_suite

    spec = sources_config.sources["hv"].people_file
    assert not groupable(rows_suite("hv", spec, load_checks(CONFIG_DIR / "checks.yaml"), NIGHT, True))


def test_importing_the_gate_does_not_import_great_expectations() -> None:
    code = "import sys, checks.gate; assert 'great_expectations' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_a_broken_row_in_a_small_file_does_not_fail_the_source(tmp_path: Path, sources_config: SourcesConfig) -> None:
    rows = [gp_row(1), gp_row(2, surname=""), gp_row(3)]
    landing = make_drop(tmp_path, {"GP_RegisteredPatients": csv_text("GP_RegisteredPatients", rows),
                                   "GP_Appointments": csv_text("GP_Appointments", [GP_APPT])})
    _night, status, gate = run_source(tmp_path, landing, "gp", sources_config)
    assert status.files[0].quarantined == 1  # the row is still set aside with its reason
    assert gate.passed  # one row of three is not a broken export (batch.min_rows_for_share: 100)


def test_a_missing_appointments_file_warns_and_keeps_the_people(tmp_path: Path, sources_config: SourcesConfig) -> None:
    landing = make_drop(tmp_path, {"GP_RegisteredPatients": csv_text("GP_RegisteredPatients", [gp_row(1)])})
    (landing / NIGHT.isoformat() / "GP_Appointments_20261125.csv").unlink()
    _night, status, gate = run_source(tmp_path, landing, "gp", sources_config)
    assert gate.passed and status.people == 1
    warning = next(w for w in gate.warnings if w.check == "file_missing")
    assert warning.file == "GP_Appointments_20261125.csv"
    assert "its people are used" in warning.message
