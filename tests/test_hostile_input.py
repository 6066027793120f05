"""Hostile input: valid-but-awkward CSV, broken bytes and dangerous identifiers never crash or lose a row.

Each case builds a tiny drop, ingests it and asserts what was accepted, what was set aside and why, and
that every row read is accounted for (:func:`tests.test_checks_support.assert_conserved`).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ground.config import ConfigError
from ground.identifiers import RECORD_ID_MAX_LENGTH, record_id_problem
from ground.sources import SourcesConfig, load_sources
from landing.ingest import FileCount, ingest_source
from landing.readers import FileUnreadable, read_extract
from tests.conftest import CONFIG_DIR, SAMPLE_DATE, SAMPLE_LANDING
from tests.test_checks_support import HEADERS, NIGHT, assert_conserved, csv_text, make_drop, quarantine_of

SN = "SN_Caseload"
AMH = "AMH_Patients"


def sn_row(pid: object, first: str = "Tommy", address: str = "111 Cedar Close", services: str = "") -> str:
    """One school-nursing caseload line (address and services as given, quoted by the caller if needed)."""
    return (f"{pid},9999805213,01,{first},Wilkinson,2015-10-25,M,{address},CW7 5WQ,Willaston Primary,157040,2,"
            f"L Carroll,Vale Royal SN,N,N,{services},2026-07-02")


def amh_row(rio: object, address: str = '"4 Elm Road, Winsford"') -> str:
    """One adult-mental-health patient line."""
    return (f"{rio},9995442787,Dawn,Hughes,01/02/1985,Female,{address},CW7 1AA,Winsford CMHT,A Nurse,"
            "01/03/2026,,Yes,No")


def ingest(root: Path, files: dict[str, bytes | str], source: str, config: SourcesConfig) -> tuple[Path, FileCount]:
    """Ingest one source of a tiny drop; check conservation; return the night folder and the first file's counts."""
    landing = make_drop(root, files)
    night = root / "out" / NIGHT.isoformat()
    result = ingest_source(landing, NIGHT, config, source, night)
    assert_conserved(night, source)
    return night, result.files[0]


def people(night: Path, source: str) -> pl.DataFrame:
    return pl.read_parquet(night / "landing" / "sources" / source / "people.parquet")


# --- line ends and quoted line breaks (row 3 of issue #15) -----------------------------------------

def test_carriage_return_inside_a_quoted_field_is_kept(tmp_path: Path, sources_config: SourcesConfig) -> None:
    body = csv_text(SN, [sn_row(1, address='"Flat 2\r111 Cedar Close"'), sn_row(2)])
    night, count = ingest(tmp_path, {SN: body}, "sn", sources_config)
    assert people(night, "sn").select("record_id", "address_line1", "row").rows() == [
        ("1", "Flat 2\r111 Cedar Close", 2), ("2", "111 Cedar Close", 3)]
    assert (count.rows_read, count.accepted, count.quarantined) == (2, 2, 0)


def test_lone_carriage_return_in_an_unquoted_field_is_data(tmp_path: Path, sources_config: SourcesConfig) -> None:
    body = csv_text(SN, [sn_row(1, address="Flat 2\r111 Cedar Close"), sn_row(2)], "\r\n")
    night, count = ingest(tmp_path, {SN: body}, "sn", sources_config)
    assert people(night, "sn").get_column("address_line1").to_list() == ["Flat 2\r111 Cedar Close", "111 Cedar Close"]
    assert count.accepted == 2


def test_cr_only_line_ends(tmp_path: Path, sources_config: SourcesConfig) -> None:
    body = csv_text(SN, [sn_row(1), sn_row(2), sn_row(3, address='"Flat 1\r2 Oak Way"')], "\r")
    night, count = ingest(tmp_path, {SN: body}, "sn", sources_config)
    assert people(night, "sn").select("record_id", "row").rows() == [("1", 2), ("2", 3), ("3", 4)]
    assert people(night, "sn").get_column("address_line1").to_list()[2] == "Flat 1\r2 Oak Way"
    assert count.quarantined == 0


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_quoted_line_break_is_one_row_numbered_by_its_first_line(
        tmp_path: Path, sources_config: SourcesConfig, newline: str) -> None:
    rows = [amh_row(1, f'"4 Elm Road{newline}Winsford"'), amh_row(2), amh_row(3, f'"a{newline}b{newline}c"')]
    night, count = ingest(tmp_path, {AMH: csv_text(AMH, rows, newline)}, "amh", sources_config)
    assert people(night, "amh").select("record_id", "row", "address_line1").rows() == [
        ("1", 2, f"4 Elm Road{newline}Winsford"), ("2", 4, "4 Elm Road"), ("3", 5, f"a{newline}b{newline}c")]
    assert (count.rows_read, count.accepted, count.quarantined, count.blank_lines) == (3, 3, 0, 0)


def test_stray_quote_sets_aside_its_own_line_only(tmp_path: Path, sources_config: SourcesConfig) -> None:
    rows = [sn_row(1), sn_row(2, address='"111 Cedar Close'), sn_row(3), sn_row(4), sn_row(5)]
    night, count = ingest(tmp_path, {SN: csv_text(SN, rows)}, "sn", sources_config)
    assert people(night, "sn").get_column("record_id").to_list() == ["1", "3", "4", "5"]
    [entry] = quarantine_of(night, "sn")
    assert (entry["row"], entry["reason"]) == (3, "unparseable_line")
    assert str(entry["value"]).startswith("unbalanced quotes")
    assert count.rows_read == 5


def test_stray_quote_among_quoted_fields_does_not_swallow_the_next_row(
        tmp_path: Path, sources_config: SourcesConfig) -> None:
    rows = [amh_row(1), amh_row(2, '"4 Elm Road, Winsford'), amh_row(3), amh_row(4)]
    night, _ = ingest(tmp_path, {AMH: csv_text(AMH, rows)}, "amh", sources_config)
    assert people(night, "amh").get_column("record_id").to_list() == ["1", "3", "4"]
    assert [e["row"] for e in quarantine_of(night, "amh")] == [3]


def test_stray_quote_in_a_long_file_costs_one_row(tmp_path: Path, sources_config: SourcesConfig) -> None:
    rows = [sn_row(i) for i in range(1, 400)]
    rows[10] = sn_row(11, first='"Tommy')
    night, count = ingest(tmp_path, {SN: csv_text(SN, rows)}, "sn", sources_config)
    assert (count.accepted, count.quarantined) == (398, 1)
    assert quarantine_of(night, "sn")[0]["row"] == 12


# --- NUL bytes and encodings (row 11) --------------------------------------------------------------

def test_nul_sets_aside_its_row_not_the_file(tmp_path: Path, sources_config: SourcesConfig) -> None:
    rows = [sn_row(i) for i in range(1, 1500)]  # over 64 KiB, so a late NUL is checked as an early one
    rows[1] = sn_row(2, first="To\x00mmy")
    rows[1400] = sn_row(1401, services="CAMHS\x00")
    night, count = ingest(tmp_path, {SN: csv_text(SN, rows)}, "sn", sources_config)
    assert len(csv_text(SN, rows).encode()) > 65536
    assert [(e["row"], e["reason"]) for e in quarantine_of(night, "sn")] == [(3, "nul_byte"), (1402, "nul_byte")]
    assert (count.status, count.accepted, count.quarantined) == ("ok", 1497, 2)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be-bom", "utf-32", "utf-16-le"])
def test_utf16_and_utf32_are_decoded(tmp_path: Path, sources_config: SourcesConfig, codec: str) -> None:
    text = csv_text(SN, [sn_row(1, first="Zoë"), sn_row(2, first="Siobhán")], "\r\n")
    data = ("\ufeff" + text).encode("utf-16-be") if codec == "utf-16-be-bom" else text.encode(codec)
    night, count = ingest(tmp_path, {SN: data}, "sn", sources_config)
    assert people(night, "sn").get_column("forename").to_list() == ["Zoë", "Siobhán"]
    assert count.quarantined == 0
    assert any(w.startswith("encoding_mismatch: the file") for w in count.warnings)


def test_undecodable_bytes_set_aside_only_their_row(tmp_path: Path, sources_config: SourcesConfig) -> None:
    data = csv_text(SN, [sn_row(1), sn_row(2, first="T\x81\x8dmmy")]).encode("latin-1")  # not UTF-8, not cp1252
    night, count = ingest(tmp_path, {SN: data}, "sn", sources_config)
    assert [(e["row"], e["reason"]) for e in quarantine_of(night, "sn")] == [(3, "encoding_error")]
    assert count.accepted == 1


# --- record identifiers (rows 4 and 10) ------------------------------------------------------------

@pytest.mark.parametrize(("identifier", "reason"), [
    ('"=HYPERLINK(""http://x.example"",""y"")"', "identifier_formula_prefix"),
    ("+441234", "identifier_formula_prefix"),
    ("-12", "identifier_formula_prefix"),
    ("@SUM(A1)", "identifier_formula_prefix"),
    ("7" * (RECORD_ID_MAX_LENGTH + 1), "identifier_too_long"),
    ("12\x0734", "identifier_control_character"),
    ('"12\n34"', "identifier_control_character"),
    ("12 34", "identifier_bad_characters"),
    ("../x", "identifier_bad_characters"),
    ("12;DROP", "identifier_bad_characters"),
])
def test_bad_record_id_sets_its_row_aside_with_the_reason(
        tmp_path: Path, sources_config: SourcesConfig, identifier: str, reason: str) -> None:
    contacts = csv_text("SN_Contacts", ["1,2026-11-01T10:00:00,Clinic,Attended,A Nurse",
                                        f"{identifier},2026-11-02T10:00:00,Clinic,WNB,A Nurse"])
    night, _ = ingest(tmp_path, {SN: csv_text(SN, [sn_row(1), sn_row(identifier)]),
                                 "SN_Contacts": contacts}, "sn", sources_config)
    assert people(night, "sn").get_column("record_id").to_list() == ["1"]
    entries = quarantine_of(night, "sn")
    assert [(e["file"], e["row"], e["reason"], e["column"]) for e in entries] == [
        ("SN_Caseload_20261125.csv", 3, reason, "PatientID"), ("SN_Contacts_20261125.csv", 3, reason, "PatientID")]
    for entry in entries:  # the quarantine shows a bounded, masked value with no raw control characters
        assert len(str(entry["value"])) <= 40 and not any(ord(c) < 32 for c in str(entry["value"]))


def test_longest_allowed_identifier_is_accepted(tmp_path: Path, sources_config: SourcesConfig) -> None:
    longest = "A" + "7" * (RECORD_ID_MAX_LENGTH - 1)
    night, _ = ingest(tmp_path, {SN: csv_text(SN, [sn_row(longest), sn_row("RIO-1/2:3.4_5")])}, "sn", sources_config)
    assert people(night, "sn").get_column("record_id").to_list() == [longest, "RIO-1/2:3.4_5"]
    assert record_id_problem(longest) is None and record_id_problem("=1") == "identifier_formula_prefix"


# --- source keys (row 13) --------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["../../x", "HV", "a" * 17, "hv/x", ""])
def test_source_key_must_be_a_slug(tmp_path: Path, key: str) -> None:
    text = (CONFIG_DIR / "sources.yaml").read_text(encoding="utf-8").replace("\n  hv:\n", f"\n  '{key}':\n", 1)
    assert f"'{key}'" in text
    (tmp_path / "sources.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="String should match pattern"):
        load_sources(tmp_path / "sources.yaml")


def test_file_name_stem_cannot_be_a_path(tmp_path: Path) -> None:
    text = (CONFIG_DIR / "sources.yaml").read_text(encoding="utf-8").replace("name: HV_Caseload", "name: ../HV", 1)
    (tmp_path / "sources.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources.hv.files.0.name: String should match pattern"):
        load_sources(tmp_path / "sources.yaml")


# --- any bytes at all: only FileUnreadable or rows accounted for ------------------------------------

GOOD = csv_text(AMH, [amh_row(1), amh_row(2, '"1 ""The"" Lane\nTown"'), amh_row(3)], "\r\n").encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, len(GOOD)), st.sampled_from(
    [b"", b"\x00", b'"', b"\r", b"\n", b"\r\n", b",", b"\xff", b"\xfe\xff", b"\xe9", b'""', b"\x85"])),
    max_size=6), codec=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1"]))
def test_any_mutation_of_a_file_is_read_or_refused_never_crashes(
        tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[int, bytes]], codec: str) -> None:
    data = bytearray(GOOD)
    for position, insert in sorted(edits, reverse=True):
        data[position:position] = insert
    path = tmp_path_factory.mktemp("fuzz") / "AMH_Patients_20261125.csv"
    path.write_bytes(bytes(data))
    columns = HEADERS[AMH].split(",")
    try:
        raw = read_extract(path, codec, columns)
    except FileUnreadable:
        return
    rows = raw.frame.get_column("_row").to_list() + [int(str(r["row"])) for r in raw.rejects]
    assert raw.rows_read == raw.frame.height + len(raw.rejects)
    assert len(rows) == len(set(rows)) and all(r >= 2 for r in rows)


# --- a 100-character identifier through the whole night on SQLite and PostgreSQL (row 4) -----------

@pytest.mark.slow
def test_hundred_character_id_through_the_night(tmp_path: Path, state_url: str) -> None:
    from safelink.pipeline import Night, run_night

    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING / SAMPLE_DATE.isoformat(), landing / SAMPLE_DATE.isoformat())
    stamp = SAMPLE_DATE.strftime("%Y%m%d")
    long_id = "TP" + "9" * 98
    for name in ("TP_Clients", "TP_Appointments"):
        path = landing / SAMPLE_DATE.isoformat() / f"{name}_{stamp}.csv"
        lines = path.read_text(encoding="utf-8").splitlines()
        victim = lines[1].split(",")[0]
        path.write_text("\n".join([lines[0], *(ln.replace(victim, long_id, 1) if ln.startswith(victim + ",") else ln
                                               for ln in lines[1:])]) + "\n", encoding="utf-8")
    summary = run_night(Night(landing=landing, output=tmp_path / "out", extract_date=SAMPLE_DATE,
                              state_url=state_url))
    night = tmp_path / "out" / SAMPLE_DATE.isoformat()
    quarantine = pl.read_csv(night / "checks" / "quarantine.csv", infer_schema=False)
    too_long = quarantine.filter(pl.col("reason") == "identifier_too_long")
    assert set(too_long.get_column("file").to_list()) == {f"TP_Clients_{stamp}.csv", f"TP_Appointments_{stamp}.csv"}
    links = pl.read_csv(night / "person_links.csv", infer_schema=False)
    assert long_id not in links.get_column("record_id").to_list()
    assert links.filter(pl.col("source") == "tp").height > 0
    assert summary.stages["link"]
    assert all(row["conserved"] for row in summary.stages["combine"]["conservation"].values())
    assert dt.date.fromisoformat(summary.extract_date) == SAMPLE_DATE
