"""A tiny deployment for the case view tests: one night's files written from inline rows, and accounts."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import polars as pl
from fastapi.testclient import TestClient

from tests.helpers.config import config_folder
from tests.test_alerts_helpers import LEADS_YAML, TEST_DOMAIN

NIGHT = dt.date(2026, 11, 25)
HOSTILE = '<img src=x onerror="alert(1)">'
PASSWORD = "correct horse battery"
USERS = {
    "designated": (f"designated@{TEST_DOMAIN}", "designated", None),
    "hv": (f"hv-chester@{TEST_DOMAIN}", "lead", "hv_chester"),
    "sn": (f"sn-vr@{TEST_DOMAIN}", "lead", "sn_vale_royal"),
    "engineer": (f"eng@{TEST_DOMAIN}", "engineer", None),
}
PEOPLE = [
    # source, record_id, forename, surname, dob, nhs_number, team, practice, start_date
    ("hv", "104500", HOSTILE, "Santos", dt.date(2024, 3, 1), "9997643305", "Chester Central HV", None,
     dt.date(2024, 3, 10)),
    ("gp", "23695", "Sebastian", "Santos", dt.date(2024, 3, 1), "9997643305", None, "N81012", dt.date(2024, 3, 20)),
    ("sn", "295933", "Reuben", "Clark", dt.date(2014, 6, 2), "9997682025", "Vale Royal SN", None, dt.date(2019, 9, 1)),
    ("camhs", "RIO8387993", "Reuben", "CLARK", dt.date(2014, 6, 2), "9997682025", "Vale Royal CAMHS", None,
     dt.date(2026, 1, 5)),
    ("tp", "TP17808", "Rachel", "Taylor", dt.date(1994, 1, 9), None, "Chantelle Reid", None, dt.date(2025, 4, 1)),
    ("amh", "2271649", "Rachel", "Taylor", dt.date(1994, 1, 9), "9999667007", "CMHT Vale Royal", None,
     dt.date(2025, 8, 1)),
    ("gp", "99001", "Sebastien", "Santos", dt.date(2024, 3, 1), None, None, "N81012", dt.date(2024, 3, 1)),
]
RECORDS = [("hv", "104500", "PC1"), ("gp", "23695", "PC1"), ("sn", "295933", "PC2"), ("camhs", "RIO8387993", "PC2"),
           ("tp", "TP17808", "PA1"), ("amh", "2271649", "PA1"), ("gp", "99001", "PC3")]
LEVELS = ("forename", "surname", "dob", "location", "nhs", "sex")


def pair(left: str, right: str, weights: list[float], levels: list[str], decision: str,
         guard: str | None = None, prior: float = -10.0) -> dict[str, Any]:
    """One ``pairs.parquet`` row."""
    (sl, rl), (sr, rr) = left.split(":"), right.split(":")
    total = prior + sum(weights)
    row: dict[str, Any] = {"source_l": sl, "record_id_l": rl, "source_r": sr, "record_id_r": rr, "weight": total,
                           "match_probability": 1 / (1 + 2 ** -total), "decision": decision}
    row.update({f"w_{c}": w for c, w in zip(LEVELS, weights, strict=True)})
    row.update({f"level_{c}": lv for c, lv in zip(LEVELS, levels, strict=True)})
    row["guard"] = guard
    return row


PAIRS = [
    pair("hv:104500", "gp:23695", [2.5, 6.7, 14.2, 14.0, 17.8, 0.0],
         ["close", "exact", "exact", "postcode_and_address", "exact", "missing"], "link"),
    pair("tp:TP17808", "amh:2271649", [6.3, 5.4, 14.2, 10.1, 0.0, 1.0],
         ["exact", "exact", "exact", "postcode", "missing", "same"], "link"),
    pair("sn:295933", "camhs:RIO8387993", [6.3, 5.4, 14.2, 10.1, 17.8, 1.0],
         ["exact", "exact", "exact", "postcode", "exact", "same"], "link"),
    pair("gp:99001", "hv:104500", [2.5, 6.7, 14.2, 14.0, 0.0, 0.0],
         ["close", "exact", "exact", "postcode_and_address", "missing", "missing"], "review", guard="twins"),
]


def finding(fid: str, rule: str, routes: list[str], child: str, child_records: list[str],
            adult: str | None = None, adult_records: list[str] | None = None, fingerprint: str = "fp1",
            status: str = "new") -> dict[str, Any]:
    """One ``findings.parquet`` row."""
    return {"finding_id": fid, "rule": rule, "rule_version": "1", "child_person_id": child,
            "adult_person_id": adult, "first_seen": NIGHT, "last_seen": NIGHT, "status": status,
            "evidence": json.dumps({"rule": rule, "n_missed": 3, "forename": "Sebastian"}),
            "evidence_fingerprint": fingerprint, "link_confidence": 0.995, "needs_confirmation": False,
            "child_records": child_records, "adult_records": adult_records or [], "routes": routes,
            "summary": f"{rule} fired"}


FINDINGS = [
    finding("F-HV", "repeated_non_attendance", ["hv:team:Chester Central HV"], "PC1", ["hv:104500", "gp:23695"]),
    finding("F-SA", "significant_adult", ["hv:team:Chester Central HV", "tp:team:Chantelle Reid"], "PC1",
            ["hv:104500"], "PA1", ["tp:TP17808", "amh:2271649"]),
    finding("F-SN", "unshared_involvement", ["sn:team:Vale Royal SN"], "PC2", ["sn:295933", "camhs:RIO8387993"]),
]


def write_deployment(output: Path, config: Path, night: dt.date = NIGHT, pairs: list[dict[str, Any]] | None = None,
                     findings: list[dict[str, Any]] | None = None) -> Path:
    """Write one night's files under ``output`` and ``leads.yaml`` under ``config``; returns the night folder."""
    config_folder(config, "sharing.yaml")
    (config / "leads.yaml").write_text(LEADS_YAML, encoding="utf-8")
    folder = output / night.isoformat()
    for sub in ("landing", "linkage"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    people = pl.DataFrame(PEOPLE, orient="row", schema={
        "source": pl.String, "record_id": pl.String, "forename": pl.String, "surname": pl.String, "dob": pl.Date,
        "nhs_number": pl.String, "team": pl.String, "practice": pl.String, "start_date": pl.Date})
    people.with_columns(pl.lit(None, dtype=pl.Date).alias("end_date"), pl.lit(True).alias("is_open"),
                        pl.lit(None, dtype=pl.Boolean).alias("cp_plan"),
                        pl.lit(None, dtype=pl.Boolean).alias("looked_after")).write_parquet(
        folder / "landing" / "people.parquet")
    pl.DataFrame([("hv", "104500", dt.date(2026, 9, 1), None, "Clinic", "missed"),
                  ("hv", "104500", dt.date(2026, 10, 1), None, "Home visit", "attended"),
                  ("gp", "23695", dt.date(2026, 11, 2), "09:00", "Immunisation", "missed")], orient="row",
                 schema={"source": pl.String, "record_id": pl.String, "appt_date": pl.Date, "appt_time": pl.String,
                         "appt_type": pl.String, "outcome": pl.String}).write_parquet(
        folder / "landing" / "appointments.parquet")
    pl.DataFrame(RECORDS, orient="row", schema={"source": pl.String, "record_id": pl.String,
                                                "person_id": pl.String}).with_columns(
        pl.lit(2, dtype=pl.Int64).alias("cluster_size"), pl.lit(0.995).alias("link_confidence")).write_parquet(
        folder / "linkage" / "records.parquet")
    pl.DataFrame(pairs if pairs is not None else PAIRS).write_parquet(folder / "linkage" / "pairs.parquet")
    pl.DataFrame([{"source": "hv", "owner_record_id": "104500", "kind": "related_person", "forename": "Rachel",
                   "surname": "Taylor", "relationship": "Mother", "mentioned_person_id": "PA1",
                   "mention_confidence": 0.99}]).write_parquet(folder / "linkage" / "mentions.parquet")
    schema = {"finding_id": pl.String, "rule": pl.String, "rule_version": pl.String,
              "child_person_id": pl.String, "adult_person_id": pl.String, "first_seen": pl.Date,
              "last_seen": pl.Date, "status": pl.String, "evidence": pl.String, "evidence_fingerprint": pl.String,
              "link_confidence": pl.Float64, "needs_confirmation": pl.Boolean,
              "child_records": pl.List(pl.String), "adult_records": pl.List(pl.String),
              "routes": pl.List(pl.String), "summary": pl.String}
    pl.DataFrame(findings if findings is not None else FINDINGS, schema=schema).write_parquet(
        folder / "findings.parquet")
    return folder


def csrf(client: TestClient, path: str = "/login") -> str:
    """The CSRF token on a page's form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, f"no csrf_token on {path}"
    return found.group(1)


def sign_in(client: TestClient, who: str, password: str = PASSWORD) -> Any:
    """Sign in as one of :data:`USERS`; returns the response to the POST."""
    email = USERS[who][0] if who in USERS else who
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf(client)},
                       follow_redirects=False)
