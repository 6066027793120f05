"""Helpers shared by the gate and bad-input tests: tiny drops built in tmp_path (no tests here)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl

from checks.gate import GateResult, validate_source
from ground.sources import SourcesConfig
from landing.ingest import SourceResult, ingest_source, read_source_status, source_dir
from tests.helpers.sample import CONFIG_DIR

NIGHT = dt.date(2026, 11, 25)
STAMP = "20261125"

HEADERS = {
    "HV_Caseload": ("Patient ID,NHS Number,NHS Number Status,Forename,Surname,Date of Birth,Gender,Address Line 1,"
                    "Address Line 2,Town,Postcode,Health Visitor,HV Team,Child Protection Plan,Looked After,"
                    "Other Services Involved,Caseload Start"),
    "HV_Contacts": "Patient ID,Contact Date,Contact Type,Outcome,Staff Name",
    "HV_RelatedPeople": ("Patient ID,Related Forename,Related Surname,Related DOB,Related NHS Number,Relationship,"
                         "Lives With Child,Parental Responsibility"),
    "SN_Caseload": ("PatientID,NHSNumber,NHSNumberStatus,FirstName,LastName,DOB,Sex,AddressLine1,Postcode,SchoolName,"
                    "SchoolURN,YearGroup,SchoolNurse,Team,CPPlan,LAC,OtherServicesInvolved,CaseloadStart"),
    "SN_Contacts": "PatientID,ContactDateTime,ContactType,Outcome,StaffName",
    "SN_RelatedPeople": "PatientID,RelatedName,RelatedDOB,Relationship,LivesWith",
    "CAMHS_Referrals": ("CLIENT_ID,NHS_NUMBER,NHS_NUMBER_STATUS,FIRST_NAME,SURNAME,DATE_OF_BIRTH,GENDER_CODE,ADDRESS_1,"
                        "POSTCODE,REFERRAL_ID,REFERRAL_DATE,DISCHARGE_DATE,CARE_COORDINATOR,TEAM,KNOWN_PROFESSIONALS"),
    "CAMHS_Appointments": "CLIENT_ID,APPT_DATETIME,ATTEND_CODE,CLINICIAN",
    "GP_RegisteredPatients": ("EMIS Number,NHS Number,Title,Given Name,Middle Names,Family Name,Date of Birth,Sex,"
                              "House Name/Flat,Number and Street,Village,Town,Postcode,Usual GP,Practice Code,"
                              "Registration Date"),
    "GP_Appointments": "EMIS Number,Appointment Date,Appointment Time,Slot Type,Status,Clinician",
    "Dental_Patients": ("Patient Ref,Title,First Name,Last Name,D.O.B.,Address 1,Address 2,Address 3,Post Code,NHS No,"
                        "Practice,Dentist"),
    "Dental_Appointments": "Patient Ref,Appt Date,Appt Time,Treatment,Status",
    "TP_Clients": ("Client ID,First Name,Surname,Known As,DOB,Gender,Postcode,NHS Number,Primary Substance,"
                   "Episode Start,Episode End,Keyworker,Parental Status,Other Services Known"),
    "TP_Appointments": "Client ID,Date,Outcome",
    "TP_Children": "Client ID,Child Name,Child DOB,Lives With Client",
    "AMH_Patients": ("RiO ID,NHS No,Forename,Surname,Birth Date,Gender,Address,Postcode,Team,Care Coordinator,"
                     "Referral Date,Discharge Date,Has Dependent Children,Substance Misuse Service Involved"),
    "AMH_Dependants": "RiO ID,Dependant Forename,Dependant Surname,Dependant DOB,Relationship,Lives With",
    "AMH_Appointments": "RiO ID,Appt Date,Attendance",
}
SOURCE_FILES = {
    "hv": ["HV_Caseload", "HV_Contacts", "HV_RelatedPeople"],
    "sn": ["SN_Caseload", "SN_Contacts", "SN_RelatedPeople"],
    "camhs": ["CAMHS_Referrals", "CAMHS_Appointments"],
    "gp": ["GP_RegisteredPatients", "GP_Appointments"],
    "dental": ["Dental_Patients", "Dental_Appointments"],
    "tp": ["TP_Clients", "TP_Children", "TP_Appointments"],
    "amh": ["AMH_Patients", "AMH_Dependants", "AMH_Appointments"],
}
CP1252_FILES = {"Dental_Patients", "Dental_Appointments"}
BOM_FILES = {"HV_Caseload", "HV_Contacts", "HV_RelatedPeople"}


def hv_row(pid: int, nhs: str = "999 764 3305", dob: str = "05/05/2025", surname: str = "Santos",
           postcode: str = "CH6 6EQ", status: str = "01", services: str = "") -> str:
    """One HV caseload line (synthetic person)."""
    return (f"{pid},{nhs},{status},Zoe,{surname},{dob},Female,20 Grove,,Frodsham,{postcode},A Visitor,"
            f"Chester HV,N,N,{services},15/05/2025")


def hv_contact(pid: int, date: str = "19/05/2026 14:00", outcome: str = "Attended") -> str:
    """One HV contact line."""
    return f"{pid},{date},Clinic,{outcome},A Visitor"


def gp_row(emis: int, nhs: str = "9995442787", dob: str = "03-Jan-2015", surname: str = "Cox") -> str:
    """One GP registered-patient line."""
    return f"{emis},{nhs},Mr,Connor,,{surname},{dob},M,,122 Larch Avenue,,Town,CH66 2TB,Dr B,N81006,10-May-2005"


def dental_row(ref: str, dob: str = "6/1/59", first: str = "Ali") -> str:
    """One dental patient line."""
    return f"{ref},Mr,{first},Iqbal,{dob},115 Bridge Drive,,,CH66 8XA,,Neston Dental,Dr C Lunt"


def csv_text(kind: str, rows: list[str], newline: str = "\n") -> str:
    """Header plus rows, each line ended by ``newline``."""
    return newline.join([HEADERS[kind], *rows]) + newline


def header_only(kind: str) -> bytes:
    """A file holding only its header, in the source's encoding and line ends."""
    text = HEADERS[kind] + ("\r\n" if kind.startswith(("HV_", "GP_", "Dental_")) else "\n")
    if kind in BOM_FILES:
        text = "\ufeff" + text
    return text.encode("cp1252" if kind in CP1252_FILES else "utf-8")


def make_drop(root: Path, files: dict[str, bytes | str], date: dt.date = NIGHT, success: bool = True,
              complete: bool = True) -> Path:
    """Write a drop ``<root>/landing/<date>/`` and return the landing root.

    Args:
        root: a temporary folder.
        files: file name (without ``_<date>.csv`` when it has no dot) → content.
        date: the extract date.
        success: write the ``_SUCCESS`` marker.
        complete: add header-only files for the other files of each source given.
    """
    folder = root / "landing" / date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    if complete:
        for kinds in SOURCE_FILES.values():
            if any(k in files for k in kinds):
                for kind in kinds:
                    if kind not in files:
                        (folder / f"{kind}_{date.strftime('%Y%m%d')}.csv").write_bytes(header_only(kind))
    for name, content in files.items():
        file_name = name if "." in name else f"{name}_{date.strftime('%Y%m%d')}.csv"
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / file_name).write_bytes(data)
    if success:
        (folder / "_SUCCESS").write_bytes(b"")
    return root / "landing"


def config_dir(root: Path, checks_yaml: str | None = None) -> Path:
    """A configuration folder: the shipped files, with ``checks.yaml`` replaced when given.

    Args:
        root: a temporary folder.
        checks_yaml: the text of ``checks.yaml`` to use instead of the shipped one.
    """
    if checks_yaml is None:
        return CONFIG_DIR
    folder = root / "config"
    folder.mkdir(exist_ok=True)
    shutil.copy(CONFIG_DIR / "sources.yaml", folder / "sources.yaml")
    (folder / "checks.yaml").write_text(checks_yaml, encoding="utf-8")
    return folder


def run_source(
    root: Path, landing: Path, source: str, config: SourcesConfig, date: dt.date = NIGHT,
    configuration: Path = CONFIG_DIR,
) -> tuple[Path, SourceResult, GateResult]:
    """Ingest one source then run its gate; return the night folder, ingest status and gate.

    Args:
        root: a temporary folder (output goes to ``<root>/out``).
        landing: the landing root.
        source: the source key.
        config: the sources configuration.
        date: the night.
        configuration: the configuration folder for the gate.
    """
    night = root / "out" / date.isoformat()
    ingest_source(landing, date, config, source, night)
    gate = validate_source(night, source, configuration, date)
    assert_conserved(night, source)
    return night, read_source_status(night, source), gate


def assert_conserved(night: Path, source: str) -> None:
    """Every row read is accepted, set aside or a collapsed duplicate, in the counts and in the tables.

    Args:
        night: the night folder.
        source: the source key.
    """
    status = read_source_status(night, source)
    folder = source_dir(night, source)
    quarantine = pl.read_parquet(folder / "quarantine.parquet") if (folder / "quarantine.parquet").exists() else None
    for count in status.files:
        assert count.rows_read == count.accepted + count.quarantined + count.duplicates, count
        if quarantine is not None:
            assert quarantine.filter(pl.col("file") == count.file).height == count.quarantined, count.file
        table = folder / f"{count.table}.parquet"
        if count.status == "ok" and table.exists() and not (count.table == "people" and source == "camhs"):
            held = pl.read_parquet(table).filter(pl.col("file") == count.file).height
            assert held == count.accepted, (count.file, held, count.accepted)


def quarantine_of(night: Path, source: str) -> list[dict[str, object]]:
    """The source's set-aside rows as dicts (file, row, column, value, reason, check)."""
    frame = pl.read_parquet(source_dir(night, source) / "quarantine.parquet")
    return frame.select("file", "row", "column", "value", "reason", "check").to_dicts()
