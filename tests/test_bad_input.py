"""Bad input catalogue: each case builds a tiny drop and asserts what the user sees.

Every case also asserts the conservation identity (rows read = accepted + set aside + duplicates,
in the counts and in the tables) through :func:`tests.test_checks_support.assert_conserved`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from checks.gate import validate_source
from ground.sources import SourcesConfig
from landing.ingest import DropIncomplete, FileCount, check_drop, combine_sources, ingest_drop, ingest_source
from tests.helpers.sample import CONFIG_DIR
from tests.test_checks_support import (
    HEADERS,
    NIGHT,
    assert_conserved,
    csv_text,
    dental_row,
    hv_contact,
    hv_row,
    make_drop,
    quarantine_of,
    run_source,
)

SN = "SN_Caseload"


def sn_row(pid: int, first: str = "Tommy", dob: str = "2015-10-25", surname: str = "Wilkinson",
           nhs: str = "9999805213") -> str:
    """One school-nursing caseload line."""
    return (f"{pid},{nhs},01,{first},{surname},{dob},M,111 Cedar Close,CW7 5WQ,Willaston Primary,157040,2,"
            "L Carroll,Vale Royal SN,N,N,,2026-07-02")


def ingest_only(root: Path, files: dict[str, bytes | str], source: str, config: SourcesConfig,
                ) -> tuple[Path, FileCount]:
    """Ingest one source of a tiny drop; return the night folder and the first file's counts."""
    landing = make_drop(root, files)
    night = root / "out" / NIGHT.isoformat()
    result = ingest_source(landing, NIGHT, config, source, night)
    assert_conserved(night, source)
    return night, result.files[0]


def sn_file(rows: list[str]) -> str:
    return csv_text(SN, rows)


# --- whole-file problems -------------------------------------------------------------------------

def test_empty_file_fails_the_gate_with_its_reason(tmp_path: Path, sources_config: SourcesConfig) -> None:
    landing = make_drop(tmp_path, {SN: "\n \n"})
    _, status, gate = run_source(tmp_path, landing, "sn", sources_config)
    assert status.status == "failed" and status.files[0].status == "unreadable"
    failure = next(f for f in gate.failures if f.check == "file_readable")
    assert "file is empty (0 bytes or whitespace only); expected a header row" in failure.message
    assert gate.status == "failed"


def test_zero_byte_file(tmp_path: Path, sources_config: SourcesConfig) -> None:
    landing = make_drop(tmp_path, {SN: b""})
    _, status, gate = run_source(tmp_path, landing, "sn", sources_config)
    assert status.files[0].message.startswith("empty: SN_Caseload_20261125.csv: file is empty")
    assert any("file is empty" in f.message for f in gate.failures)


def test_header_only_people_file_fails_min_rows(tmp_path: Path, sources_config: SourcesConfig) -> None:
    landing = make_drop(tmp_path, {SN: sn_file([])})
    _, status, gate = run_source(tmp_path, landing, "sn", sources_config)
    assert status.files[0].rows_read == 0
    failure = next(f for f in gate.failures if f.check == "min_rows")
    assert failure.observed == "0 rows" and failure.allowed == "at least 1"
    assert "header only?" in failure.message


def test_missing_column_fails_gate_naming_the_column(tmp_path: Path, sources_config: SourcesConfig) -> None:
    header = HEADERS[SN].replace(",LastName", "")
    body = header + "\n" + sn_row(1).replace(",Wilkinson", "") + "\n"
    landing = make_drop(tmp_path, {SN: body})
    _, status, gate = run_source(tmp_path, landing, "sn", sources_config)
    assert "missing column(s) ['LastName']" in status.files[0].message
    layout = next(f for f in gate.failures if f.check == "missing_column")
    assert layout.message.startswith("SN_Caseload_20261125.csv: required column 'LastName' is missing")
    assert gate.status == "failed"


def test_extra_unknown_column_is_ignored_with_a_warning(tmp_path: Path, sources_config: SourcesConfig) -> None:
    body = HEADERS[SN] + ",Shoe Size\n" + sn_row(1) + ",9\n"
    landing = make_drop(tmp_path, {SN: body})
    _, status, gate = run_source(tmp_path, landing, "sn", sources_config)
    assert status.files[0].accepted == 1
    assert "unexpected column(s) ignored: ['Shoe Size']" in status.files[0].warnings
    assert any(w.check == "columns_known" for w in gate.warnings)
    assert gate.passed


def test_columns_in_another_order_are_read_by_name(tmp_path: Path, sources_config: SourcesConfig) -> None:
    names = HEADERS[SN].split(",")
    values = sn_row(7).split(",")
    order = list(reversed(range(len(names))))
    body = ",".join(names[i] for i in order) + "\n" + ",".join(values[i] for i in order) + "\n"
    landing = make_drop(tmp_path, {SN: body})
    night, _, gate = run_source(tmp_path, landing, "sn", sources_config)
    people = pl.read_parquet(night / "landing" / "sources" / "sn" / "people.parquet")
    assert people.select("record_id", "surname", "dob").row(0) == ("7", "Wilkinson", dt.date(2015, 10, 25))
    assert gate.passed


def test_cp1252_where_utf8_expected_is_read_not_dropped(tmp_path: Path, sources_config: SourcesConfig) -> None:
    data = sn_file([sn_row(1, first="Siobhán"), sn_row(2)]).encode("cp1252")
    night, count = ingest_only(tmp_path, {SN: data}, "sn", sources_config)
    people = pl.read_parquet(night / "landing" / "sources" / "sn" / "people.parquet")
    assert people.get_column("forename").to_list() == ["Siobhán", "Tommy"]
    assert count.quarantined == 0
    assert any(w.startswith("encoding_mismatch: 1 line(s) not valid utf-8 were read as cp1252") for w in count.warnings)


def test_utf8_where_cp1252_expected_is_not_garbled(tmp_path: Path, sources_config: SourcesConfig) -> None:
    data = csv_text("Dental_Patients", [dental_row("P1", first="Zoë")], "\r\n").encode("utf-8")
    night, count = ingest_only(tmp_path, {"Dental_Patients": data}, "dental", sources_config)
    people = pl.read_parquet(night / "landing" / "sources" / "dental" / "people.parquet")
    assert people.get_column("forename").to_list() == ["Zoë"]  # not "ZoÃ«"
    assert any(w.startswith("encoding_mismatch: file is UTF-8 but cp1252 is configured") for w in count.warnings)


def test_bom_where_none_expected(tmp_path: Path, sources_config: SourcesConfig) -> None:
    _, count = ingest_only(tmp_path, {SN: "\ufeff" + sn_file([sn_row(1)])}, "sn", sources_config)
    assert count.accepted == 1
    assert "byte-order mark found where none is configured (ignored)" in count.warnings


def test_truncated_last_line(tmp_path: Path, sources_config: SourcesConfig) -> None:
    body = sn_file([sn_row(1)]) + sn_row(2)[:40]  # the export stopped mid-row, no final newline
    night, count = ingest_only(tmp_path, {SN: body}, "sn", sources_config)
    assert count.accepted == 1
    assert quarantine_of(night, "sn") == [{"file": "SN_Caseload_20261125.csv", "row": 3, "column": None,
                                           "value": "6 fields where the header has 18", "reason": "unparseable_line",
                                           "check": "parse"}]


def test_unbalanced_quotes(tmp_path: Path, sources_config: SourcesConfig) -> None:
    body = sn_file([sn_row(1), sn_row(2).replace("111 Cedar Close", '"111 Cedar Close')])
    night, _ = ingest_only(tmp_path, {SN: body}, "sn", sources_config)
    [entry] = quarantine_of(night, "sn")
    assert (entry["row"], entry["reason"]) == (3, "unparseable_line")
    assert str(entry["value"]).startswith("unbalanced quotes")


@pytest.mark.parametrize(("line", "fields"), [("{},extra", 19), ("{}", 17)])
def test_too_many_or_too_few_fields(tmp_path: Path, sources_config: SourcesConfig, line: str, fields: int) -> None:
    row = sn_row(2)
    row = line.format(row) if fields == 19 else row.rsplit(",", 1)[0]
    night, count = ingest_only(tmp_path, {SN: sn_file([sn_row(1), row])}, "sn", sources_config)
    assert quarantine_of(night, "sn")[0]["value"] == f"{fields} fields where the header has 18"
    assert count.accepted == 1 and count.quarantined == 1


def test_blank_lines_are_counted_apart(tmp_path: Path, sources_config: SourcesConfig) -> None:
    body = HEADERS[SN] + "\n\n" + sn_row(1) + "\n   \n" + sn_row(2) + "\n\n"
    _, count = ingest_only(tmp_path, {SN: body}, "sn", sources_config)
    assert (count.rows_read, count.accepted, count.blank_lines) == (2, 2, 3)


# --- dates ----------------------------------------------------------------------------------------

def test_31_february_is_an_impossible_date_of_birth(tmp_path: Path, sources_config: SourcesConfig) -> None:
    rows = [hv_row(1), hv_row(2, dob="31/02/2019")]
    night, _ = ingest_only(tmp_path, {"HV_Caseload": "\ufeff" + csv_text("HV_Caseload", rows, "\r\n")},
                           "hv", sources_config)
    assert quarantine_of(night, "hv") == [{"file": "HV_Caseload_20261125.csv", "row": 3, "column": "Date of Birth",
                                           "value": "<masked: 10 characters>", "reason": "impossible_date",
                                           "check": "row"}]


def test_date_of_birth_in_the_future_is_kept_and_flagged(tmp_path: Path, sources_config: SourcesConfig) -> None:
    # a mistyped digit can push a real child's birth date past tonight: never a reason to drop them
    landing = make_drop(tmp_path, {SN: sn_file([sn_row(1, dob="2027-01-01")])})
    night, status, gate = run_source(tmp_path, landing, "sn", sources_config)
    people = pl.read_parquet(night / "landing" / "sources" / "sn" / "people.parquet")
    assert people.get_column("flags").to_list() == [["dob_in_future"]]
    assert status.files[0].quarantined == 0 and gate.set_aside_by_checks == 0
    warning = next(w for w in gate.warnings if w.check == "dob_not_future")
    assert warning.observed == "1 of 1 rows unexpected" and "2027" not in warning.message


def test_two_digit_year_that_pivots_wrongly_is_flagged(tmp_path: Path, sources_config: SourcesConfig) -> None:
    # appointment years pivot to 20yy: a 1998 appointment typed '98' lands in 2098
    appointments = csv_text("Dental_Appointments", ["P1,1/6/98,10:00,Check-up,Completed"], "\r\n")
    landing = make_drop(tmp_path, {"Dental_Patients": csv_text("Dental_Patients", [dental_row("P1")], "\r\n"),
                                   "Dental_Appointments": appointments})
    night, _, gate = run_source(tmp_path, landing, "dental", sources_config)
    frame = pl.read_parquet(night / "landing" / "sources" / "dental" / "appointments.parquet")
    assert frame.get_column("appt_date").to_list() == [dt.date(2098, 6, 1)]  # kept
    warning = next(w for w in gate.warnings if w.check == "appointment_date_plausible")
    assert warning.observed == "1 of 1 rows unexpected" and "on or before 2027-11-26" in warning.allowed


# --- NHS numbers (kept, flagged) ------------------------------------------------------------------

@pytest.mark.parametrize("nhs", ["94347A5919", "943476591", "94347659190", "9434765910", "1111111111"],
                         ids=["letters", "9-digits", "11-digits", "mod11", "one-digit"])
def test_bad_nhs_number_is_kept_as_missing_and_flagged(tmp_path: Path, sources_config: SourcesConfig,
                                                       nhs: str) -> None:
    landing = make_drop(tmp_path, {SN: sn_file([sn_row(1, nhs=nhs)])})
    night, status, gate = run_source(tmp_path, landing, "sn", sources_config)
    people = pl.read_parquet(night / "landing" / "sources" / "sn" / "people.parquet")
    assert people.select("record_id", "nhs_number", "flags").row(0) == ("1", None, ["nhs_number_invalid"])
    assert status.files[0].quarantined == 0
    warning = next(w for w in gate.warnings if w.check == "nhs_number_valid")
    assert warning.observed == "1 of 1 rows unexpected"
    assert nhs not in warning.message  # never shown


def test_test_range_nhs_numbers_only_when_config_allows(tmp_path: Path, sources_config: SourcesConfig) -> None:
    strict = sources_config.model_copy(update={"allow_test_range_nhs_numbers": False})
    night, _ = ingest_only(tmp_path, {SN: sn_file([sn_row(1, nhs="9999805213")])}, "sn", strict)
    people = pl.read_parquet(night / "landing" / "sources" / "sn" / "people.parquet")
    assert people.get_column("flags").to_list() == [["nhs_number_invalid"]]


# --- codes, owners, identifiers -------------------------------------------------------------------

def test_unknown_outcome_code(tmp_path: Path, sources_config: SourcesConfig) -> None:
    contacts = csv_text("HV_Contacts", [hv_contact(1), hv_contact(1, outcome="Missed-ish")], "\r\n")
    landing = make_drop(tmp_path, {"HV_Caseload": "\ufeff" + csv_text("HV_Caseload", [hv_row(1)], "\r\n"),
                                   "HV_Contacts": "\ufeff" + contacts})
    night, _, gate = run_source(tmp_path, landing, "hv", sources_config)
    frame = pl.read_parquet(night / "landing" / "sources" / "hv" / "appointments.parquet")
    assert frame.select("outcome_raw", "outcome").rows() == [("Attended", "attended"), ("Missed-ish", None)]
    warning = next(w for w in gate.warnings if w.check == "outcome_coded")
    assert warning.file == "HV_Contacts_20261125.csv" and warning.observed == "1 of 2 rows unexpected"


def test_appointment_for_unknown_patient(tmp_path: Path, sources_config: SourcesConfig) -> None:
    contacts = csv_text("HV_Contacts", [hv_contact(1), hv_contact(999)], "\r\n")
    landing = make_drop(tmp_path, {"HV_Caseload": "\ufeff" + csv_text("HV_Caseload", [hv_row(1)], "\r\n"),
                                   "HV_Contacts": "\ufeff" + contacts})
    night, _, gate = run_source(tmp_path, landing, "hv", sources_config)
    frame = pl.read_parquet(night / "landing" / "sources" / "hv" / "appointments.parquet")
    assert frame.get_column("owner_known").to_list() == [True, False]
    warning = next(w for w in gate.warnings if w.check == "owner_known")
    assert warning.observed == "1 of 2 rows unexpected" and "refer to an accepted person record" in warning.allowed


def test_duplicate_patient_id_with_different_data(tmp_path: Path, sources_config: SourcesConfig) -> None:
    night, count = ingest_only(tmp_path, {SN: sn_file([sn_row(5), sn_row(5, first="Tom")])}, "sn", sources_config)
    assert quarantine_of(night, "sn") == [{"file": "SN_Caseload_20261125.csv", "row": 3, "column": "PatientID",
                                           "value": "5", "reason": "duplicate_identifier", "check": "row"}]
    assert count.accepted == 1


def test_duplicate_identical_rows_collapse(tmp_path: Path, sources_config: SourcesConfig) -> None:
    night, count = ingest_only(tmp_path, {SN: sn_file([sn_row(5), sn_row(5), sn_row(6)])}, "sn", sources_config)
    assert (count.rows_read, count.accepted, count.duplicates, count.quarantined) == (3, 2, 1, 0)
    assert quarantine_of(night, "sn") == []


def test_blank_identifier_and_blank_surname(tmp_path: Path, sources_config: SourcesConfig) -> None:
    rows = [sn_row(1), sn_row(2).replace("2,", ",", 1), sn_row(3, surname="")]
    night, _ = ingest_only(tmp_path, {SN: sn_file(rows)}, "sn", sources_config)
    assert [(q["row"], q["reason"]) for q in quarantine_of(night, "sn")] == [(3, "blank_identifier"),
                                                                              (4, "blank_surname")]


# --- the drop as a whole --------------------------------------------------------------------------

def test_file_for_the_wrong_date(tmp_path: Path, sources_config: SourcesConfig) -> None:
    landing = make_drop(tmp_path, {"SN_Caseload_20261124.csv": sn_file([sn_row(1)])})
    _, status, gate = run_source(tmp_path, landing, "sn", sources_config)
    assert status.status == "missing"
    assert gate.status == "missing" and not gate.excluded
    assert "found ['SN_Caseload_20261124.csv']: a file for another date?" in gate.failures[0].message


def test_success_marker_missing(tmp_path: Path, sources_config: SourcesConfig) -> None:
    landing = make_drop(tmp_path, {SN: sn_file([sn_row(1)])}, success=False)
    with pytest.raises(DropIncomplete, match="has no _SUCCESS marker: the export may still be running"):
        check_drop(landing, NIGHT)
    assert check_drop(landing, NIGHT, require_success=False) is False


def test_whole_source_missing_the_run_goes_on(tmp_path: Path, sources_config: SourcesConfig) -> None:
    landing = make_drop(tmp_path, {SN: sn_file([sn_row(1)])})
    night = tmp_path / "out" / NIGHT.isoformat()
    for source in sources_config.sources:
        ingest_source(landing, NIGHT, sources_config, source, night)
    gate = validate_source(night, "hv", CONFIG_DIR, NIGHT)
    assert gate.status == "missing"
    assert gate.failures[0].message.startswith("hv: no HV_Caseload file tonight (not in the drop)")
    assert "not treated as gone" in gate.failures[0].message
    result = combine_sources(night, sources_config, exclude=set())
    assert "hv" in result.sources_missing and result.people == 1


def test_binary_file(tmp_path: Path, sources_config: SourcesConfig) -> None:
    landing = make_drop(tmp_path, {SN: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))})
    _, status, gate = run_source(tmp_path, landing, "sn", sources_config)
    assert status.files[0].message == ("binary: SN_Caseload_20261125.csv: looks binary (NUL bytes); "
                                       "expected a CSV text file")
    assert gate.status == "failed"


def test_enormous_non_essential_field_is_blanked_and_the_row_kept(tmp_path: Path,
                                                                  sources_config: SourcesConfig) -> None:
    row = sn_row(1).replace(",,2026-07-02", "," + "x" * 1_000_000 + ",2026-07-02")
    night, count = ingest_only(tmp_path, {SN: sn_file([row])}, "sn", sources_config)
    people = pl.read_parquet(night / "landing" / "sources" / "sn" / "people.parquet")
    assert people.select("other_services", "flags").row(0) == (None, ["field_too_long"])
    assert count.accepted == 1 and any(w.startswith("field_too_long: 1 row(s)") for w in count.warnings)


def test_enormous_essential_field_sets_the_row_aside(tmp_path: Path, sources_config: SourcesConfig) -> None:
    night, _ = ingest_only(tmp_path, {SN: sn_file([sn_row(1, surname="y" * 1_000_000)])}, "sn", sources_config)
    [entry] = quarantine_of(night, "sn")
    assert entry["reason"] == "field_too_long"
    assert entry["value"] == "an essential field over 10000 characters (LastName)"


def test_csv_injection_never_reaches_quarantine_csv_unescaped(tmp_path: Path, sources_config: SourcesConfig) -> None:
    bad = '"=HYPERLINK(""http://example.org"",""x"")"'
    contacts = csv_text("HV_Contacts", [hv_contact(1), f"1,{bad},Clinic,Attended,A Visitor"], "\r\n")
    landing = make_drop(tmp_path, {"HV_Caseload": "\ufeff" + csv_text("HV_Caseload", [hv_row(1)], "\r\n"),
                                   "HV_Contacts": "\ufeff" + contacts})
    night = tmp_path / "out" / NIGHT.isoformat()
    ingest_drop(landing, NIGHT, sources_config, night)
    text = (night / "checks" / "quarantine.csv").read_text()
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text and ',"=HYPERLINK' not in text
    quarantine = pl.read_csv(night / "checks" / "quarantine.csv")
    assert quarantine.select("column", "reason").row(0) == ("Contact Date", "impossible_date")
    assert_conserved(night, "hv")


def test_impossible_appointment_date_sets_the_appointment_aside(tmp_path: Path,
                                                                sources_config: SourcesConfig) -> None:
    contacts = csv_text("HV_Contacts", [hv_contact(1), hv_contact(1, date="31/02/2026 10:00")], "\r\n")
    landing = make_drop(tmp_path, {"HV_Caseload": "\ufeff" + csv_text("HV_Caseload", [hv_row(1)], "\r\n"),
                                   "HV_Contacts": "\ufeff" + contacts})
    night, _, _ = run_source(tmp_path, landing, "hv", sources_config)
    [entry] = quarantine_of(night, "hv")
    assert (entry["column"], entry["value"], entry["reason"]) == ("Contact Date", "31/02/2026 10:00",
                                                                  "impossible_date")


def test_malformed_postcode_is_kept_and_flagged(tmp_path: Path, sources_config: SourcesConfig) -> None:
    night, count = ingest_only(tmp_path, {SN: sn_file([sn_row(1).replace("CW7 5WQ", "CW75")])}, "sn",
                               sources_config)
    people = pl.read_parquet(night / "landing" / "sources" / "sn" / "people.parquet")
    assert people.select("postcode", "flags").row(0) == (None, ["postcode_invalid"])
    assert count.quarantined == 0
