"""Ingest by configuration: the sample drop, each source's quirks, configuration errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from ground.config import ConfigError
from ground.sources import load_sources
from landing.ingest import DropIncomplete, ingest_drop
from tests.helpers.sample import CONFIG_DIR, SAMPLE_DATE, SAMPLE_LANDING, SAMPLE_TRUTH


@pytest.fixture(scope="module")
def sample_night(tmp_path_factory: pytest.TempPathFactory, sources_config):  # type: ignore[no-untyped-def]
    night = tmp_path_factory.mktemp("out") / SAMPLE_DATE.isoformat()
    result = ingest_drop(SAMPLE_LANDING, SAMPLE_DATE, sources_config, night)
    return night, result


def test_sample_rows_set_aside_are_exactly_the_broken_rows(sample_night) -> None:  # type: ignore[no-untyped-def]
    night, _ = sample_night
    quarantine = pl.read_csv(night / "checks" / "quarantine.csv").select("file", "row", "reason").sort("file", "row")
    truth = pl.read_csv(SAMPLE_TRUTH / "broken_rows.csv").rename({"row_number": "row"}).sort("file", "row")
    assert_frame_equal(quarantine, truth.select("file", "row", "reason"))


def test_sample_every_row_is_accounted_for(sample_night) -> None:  # type: ignore[no-untyped-def]
    _night, result = sample_night
    drop = SAMPLE_LANDING / SAMPLE_DATE.isoformat()
    for count in result.files:
        raw_lines = (drop / count.file).read_bytes().splitlines()
        assert count.rows_read == len(raw_lines) - 1, count.file
        assert count.rows_read == count.accepted + count.quarantined + count.duplicates, count.file
    assert sum(c.duplicates for c in result.files) == 8


def test_sample_people_records_match_truth(sample_night) -> None:  # type: ignore[no-untyped-def]
    night, _ = sample_night
    people = (pl.read_parquet(night / "landing" / "people.parquet").select("source", "record_id")
              .sort("source", "record_id"))
    truth = pl.read_csv(SAMPLE_TRUTH / "persons.csv", schema_overrides={"record_id": pl.String})
    assert_frame_equal(people, truth.select("source", "record_id").sort("source", "record_id"))


def test_sample_mentions_cover_every_related_row(sample_night) -> None:  # type: ignore[no-untyped-def]
    night, _ = sample_night
    mentions = pl.read_parquet(night / "landing" / "mentions.parquet").select("file", "row").sort("file", "row")
    truth = pl.read_csv(SAMPLE_TRUTH / "related.csv").select("file", pl.col("row_number").alias("row"))
    assert_frame_equal(mentions, truth.sort("file", "row"))


def _people(night: Path, source: str) -> pl.DataFrame:
    return pl.read_parquet(night / "landing" / "people.parquet").filter(pl.col("source") == source)


def _drop(tmp_path: Path, files: dict[str, bytes], date: dt.date = SAMPLE_DATE) -> Path:
    folder = tmp_path / "landing" / date.isoformat()
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    (folder / "_SUCCESS").write_bytes(b"")
    return tmp_path / "landing"


HV_HEADER = ("Patient ID,NHS Number,NHS Number Status,Forename,Surname,Date of Birth,Gender,Address Line 1,"
             "Address Line 2,Town,Postcode,Health Visitor,HV Team,Child Protection Plan,Looked After,"
             "Other Services Involved,Caseload Start")


def test_hv_bom_crlf_and_spaced_nhs_numbers(tmp_path: Path, sources_config) -> None:  # type: ignore[no-untyped-def]
    body = (HV_HEADER + "\r\n"
            "1001,999 764 3305,01,Zoë,Santos,05/05/2026,Female,20 Grove,,Frodsham,ch66eq,A B,T,Y,N,CAMHS,"
            "15/05/2026\r\n")
    landing = _drop(tmp_path, {"HV_Caseload_20261125.csv": "\ufeff".encode() + body.encode("utf-8")})
    night = tmp_path / "out" / "2026-11-25"
    ingest_drop(landing, SAMPLE_DATE, sources_config, night)
    got = _people(night, "hv").select("record_id", "nhs_number", "forename", "dob", "postcode", "cp_plan", "sex")
    expected = pl.DataFrame({"record_id": ["1001"], "nhs_number": ["9997643305"], "forename": ["Zoë"],
                             "dob": [dt.date(2026, 5, 5)], "postcode": ["CH6 6EQ"], "cp_plan": [True], "sex": ["F"]})
    assert_frame_equal(got, expected)


DENTAL_HEADER = ("Patient Ref,Title,First Name,Last Name,D.O.B.,Address 1,Address 2,Address 3,Post Code,NHS No,"
                 "Practice,Dentist")


def test_dental_cp1252_and_two_digit_year_pivot(tmp_path: Path, sources_config) -> None:  # type: ignore[no-untyped-def]
    body = (DENTAL_HEADER + "\r\n"
            "P1,Ms,Siobhán,Iqbal,6/1/59,1 Road,,,CH66 8XA,,Practice A,Dr X\r\n"
            "P2,Miss,Zoë,Hunt,21/6/22,2 Road,,,CH4 1LX,,Practice A,Dr X\r\n"
            "P3,Mr,Old,Man,1/1/26,3 Road,,,CH4 1LX,,Practice A,Dr X\r\n"
            "P4,Mr,Ne,Ver,30/11/26,3 Road,,,CH4 1LX,,Practice A,Dr X\r\n")
    landing = _drop(tmp_path, {"Dental_Patients_20261125.csv": body.encode("cp1252")})
    night = tmp_path / "out" / "2026-11-25"
    ingest_drop(landing, SAMPLE_DATE, sources_config, night)
    got = _people(night, "dental").select("record_id", "forename", "dob")
    expected = pl.DataFrame({"record_id": ["P1", "P2", "P3", "P4"], "forename": ["Siobhán", "Zoë", "Old", "Ne"],
                             "dob": [dt.date(1959, 1, 6), dt.date(2022, 6, 21), dt.date(2026, 1, 1),
                                     dt.date(1926, 11, 30)]})
    assert_frame_equal(got, expected)


GP_HEADER = ("EMIS Number,NHS Number,Title,Given Name,Middle Names,Family Name,Date of Birth,Sex,House Name/Flat,"
             "Number and Street,Village,Town,Postcode,Usual GP,Practice Code,Registration Date")


def test_gp_month_names_and_impossible_dates(tmp_path: Path, sources_config) -> None:  # type: ignore[no-untyped-def]
    body = (GP_HEADER + "\r\n"
            "1,9995442787,Mr,Connor,,Cox,03-Jan-2015,M,,122 Larch Avenue,,Town,CH66 2TB,Dr B,N81006,10-May-2005\r\n"
            "2,9995442787,Mr,Tom,,Cox,30-Feb-1998,M,,122 Larch Avenue,,Town,CH66 2TB,Dr B,N81006,10-May-2005\r\n"
            "3,1234567890,Mr,Ann,,Cox,01-Dec-2030,F,,122 Larch Avenue,,Town,NOTAPC,Dr B,N81006,10-May-2005\r\n"
            "3,1234567890,Mr,Ann,,Cox,01-Dec-2000,F,,122 Larch Avenue,,Town,NOTAPC,Dr B,N81006,10-May-2005\r\n")
    landing = _drop(tmp_path, {"GP_RegisteredPatients_20261125.csv": body.encode()})
    night = tmp_path / "out" / "2026-11-25"
    ingest_drop(landing, SAMPLE_DATE, sources_config, night)
    got = _people(night, "gp").select("record_id", "dob", "nhs_number", "postcode", "flags")
    expected = pl.DataFrame({"record_id": ["1", "3"], "dob": [dt.date(2015, 1, 3), dt.date(2030, 12, 1)],
                             "nhs_number": ["9995442787", None], "postcode": ["CH66 2TB", None],
                             "flags": [[], ["nhs_number_invalid", "dob_in_future", "postcode_invalid"]]})
    assert_frame_equal(got, expected)
    quarantine = pl.read_csv(night / "checks" / "quarantine.csv")
    assert quarantine.select("row", "column", "reason").to_dicts() == [
        {"row": 3, "column": "Date of Birth", "reason": "impossible_date"},
        {"row": 5, "column": "EMIS Number", "reason": "duplicate_identifier"},
    ]
    assert "1998" not in quarantine.get_column("value").str.join("")  # a date of birth is never shown


AMH_HEADER = ("RiO ID,NHS No,Forename,Surname,Birth Date,Gender,Address,Postcode,Team,Care Coordinator,Referral Date,"
              "Discharge Date,Has Dependent Children,Substance Misuse Service Involved")


def test_amh_quoted_commas_and_open_referrals(tmp_path: Path, sources_config) -> None:  # type: ignore[no-untyped-def]
    body = (AMH_HEADER + "\n"
            '7,9998278953,Vic,Shuff,09/07/1991,Female,"121 Watling Way, Winsford",CW7 9EU,CMHT,G P,11/01/2023,,Yes,No\n'
            '8,,Ann,Lee,09/07/1981,Female,"3 Lane, Town",CW7 9EU,CMHT,G P,11/01/2023,07/01/2025,No,Yes\n')
    landing = _drop(tmp_path, {"AMH_Patients_20261125.csv": body.encode()})
    night = tmp_path / "out" / "2026-11-25"
    ingest_drop(landing, SAMPLE_DATE, sources_config, night)
    got = _people(night, "amh").select("record_id", "address_line1", "is_open")
    expected = pl.DataFrame({"record_id": ["7", "8"], "address_line1": ["121 Watling Way", "3 Lane"],
                             "is_open": [True, False]})
    assert_frame_equal(got, expected)


def test_drop_without_success_marker_is_refused(tmp_path: Path, sources_config) -> None:  # type: ignore[no-untyped-def]
    landing = _drop(tmp_path, {})
    (landing / SAMPLE_DATE.isoformat() / "_SUCCESS").unlink()
    with pytest.raises(DropIncomplete, match="no _SUCCESS marker"):
        ingest_drop(landing, SAMPLE_DATE, sources_config, tmp_path / "out")
    result = ingest_drop(landing, SAMPLE_DATE, sources_config, tmp_path / "out", require_success=False)
    assert not result.complete_drop
    assert result.sources_missing == list(sources_config.sources)


def _write_config(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((CONFIG_DIR / "sources.yaml").read_text())
    mutate(data)
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["sources"]["hv"]["files"][0]["fields"].update({"shoe_size": {"column": "X"}}),
         r"sources.hv.files.0: .*unknown field\(s\) \['shoe_size'\]"),
        (lambda d: d["sources"]["gp"]["files"][0].update({"encoding": "ebcdic"}),
         r"sources.gp.files.0.encoding: Input should be 'utf-8'"),
        (lambda d: d["sources"]["sn"]["files"][0]["fields"]["dob"].update({"formats": []}),
         r"sources.sn.files.0.fields.dob: .*needs 'formats'"),
        (lambda d: d["sources"]["tp"]["files"][2]["fields"]["outcome"]["map"].update({"DNA": "absent"}),
         r"sources.tp.files.2.*outcome must be parse: code mapping onto"),
        (lambda d: d["sources"]["amh"].update({"colour": "blue"}),
         r"sources.amh.colour: Extra inputs are not permitted"),
    ],
)
def test_config_errors_name_file_key_and_allowed(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    path = _write_config(tmp_path, mutate)
    with pytest.raises(ConfigError, match=message) as caught:
        load_sources(path)
    assert str(path) in str(caught.value)
