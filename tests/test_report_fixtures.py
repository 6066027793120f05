"""A small synthetic night folder for the report and review tests (inline fixture files, no pipeline).

The expected numbers the tests check are in :data:`EXPECTED`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import polars as pl

from ground.outputs import mark_complete
from tests.helpers.config import config_folder

TONIGHT = dt.date(2026, 11, 25)
LAST_NIGHT = dt.date(2026, 11, 24)
LAMBDA = 0.01
PRIOR = math.log2(LAMBDA / (1 - LAMBDA))
FIELDS = ["forename", "surname", "dob", "postcode", "nhs"]
EVIL_ROUTE = '<script>alert("route")</script>'
EVIL_FAILURE = "<img src=x onerror=alert(1)> surname must not be blank"
EVIL_FORENAME = "=HYPERLINK(\"http://evil.example/\",\"click\")"
SECRET_NAMES = ["Zebedee", "Quentinella", "Marchbanks", "9434765919", "1987-03-14"]

EXPECTED = {
    "rows_read": "47", "accepted": "42", "quarantined": "3", "duplicates": "2", "sources_present": "5",
    "records": "10", "persons": "6", "link_rate": "70.0%", "links": "5", "review_pairs": "2",
    "guard_total": "1", "merges": "1", "splits": "1",
    "findings": "4", "findings_new": "2", "findings_updated": "1", "findings_closed": "1",
    "precision": "0.8000", "recall": "0.8000", "findings_precision": "1.0000", "findings_recall": "0.8000",
}

# (source, record_id, person_id tonight, person_id last night, true person)
RECORDS = [
    ("hv", "101", "P1", "P1", "T1"),
    ("gp", "201", "P1", "P1", "T1"),
    ("sn", "301", "P1", "P7", "T1"),  # last night its own person: a merge tonight
    ("camhs", "RIO0000001", "P2", "P2", "T2"),
    ("gp", "202", "P2", "P2", "T2"),
    ("tp", "TP1", "P3", "P3", "T3"),
    ("gp", "203", "P3", "P3", "T9"),  # a wrong link
    ("gp", "204", "P4", "P4", "T4"),
    ("gp", "205", "P5", "P4", "T4"),  # split from P4 tonight (a missed link)
    ("hv", "102", "P6", "P6", "T6"),
]

# (source_l, record_id_l, source_r, record_id_r, decision, guard, per-field weights)
PAIRS = [
    ("hv", "101", "gp", "201", "link", None, [6.0, 7.0, 8.0, 4.0, 3.0]),
    ("hv", "101", "sn", "301", "link", None, [6.0, 7.0, 8.0, 2.0, 0.0]),
    ("gp", "201", "sn", "301", "link", None, [5.0, 6.0, 8.0, 2.0, 0.0]),
    ("camhs", "RIO0000001", "gp", "202", "link", None, [6.0, 7.0, 8.0, -2.0, 5.0]),
    ("tp", "TP1", "gp", "203", "link", None, [4.0, 5.0, 8.0, 1.0, 0.0]),
    ("gp", "204", "gp", "205", "review", None, [3.0, 4.0, 2.0, -1.0, 0.0]),
    ("hv", "102", "gp", "204", "review", None, [-2.0, 5.0, 4.0, 0.5, 0.0]),
    ("gp", "205", "hv", "102", "link", "namesake", [6.0, 7.0, -3.0, 4.0, 0.0]),
]


def weight(ws: list[float]) -> float:
    return PRIOR + sum(ws)


def prob(w: float) -> float:
    return 1.0 / (1.0 + 2.0 ** (-w))


def _files() -> pl.DataFrame:
    rows = [
        ("hv", "HV_Caseload_20261125.csv", "people", "ok", 3, 2, 0, 1, ""),
        ("hv", "HV_Contacts_20261125.csv", "appointments", "ok", 10, 9, 1, 0, ""),
        ("hv", "HV_RelatedPeople_20261125.csv", "mentions", "ok", 4, 4, 0, 0, ""),
        ("sn", "SN_Caseload_20261125.csv", "people", "ok", 1, 1, 0, 0, ""),
        ("camhs", "CAMHS_Referrals_20261125.csv", "people", "ok", 2, 1, 0, 1, ""),
        ("gp", "GP_RegisteredPatients_20261125.csv", "people", "ok", 6, 5, 1, 0, ""),
        ("gp", "GP_Appointments_20261125.csv", "appointments", "ok", 20, 19, 1, 0, ""),
        ("dental", "Dental_Patients_20261125.csv", "people", "missing", 0, 0, 0, 0, "not in the drop"),
        ("dental", "Dental_Appointments_20261125.csv", "appointments", "missing", 0, 0, 0, 0, "not in the drop"),
        ("tp", "TP_Clients_20261125.csv", "people", "ok", 1, 1, 0, 0, ""),
        ("amh", "AMH_Patients_20261125.csv", "people", "unreadable", 0, 0, 0, 0, "cannot decode as utf-8"),
    ]
    cols = ["source", "file", "table", "status", "rows_read", "accepted", "quarantined", "duplicates", "message"]
    df = pl.DataFrame(rows, schema=cols, orient="row")
    return df.with_columns(pl.lit(0).alias("blank_lines"))


def _people() -> pl.DataFrame:
    rows = []
    for i, (source, record_id, *_rest) in enumerate(RECORDS):
        rows.append({
            "source": source, "record_id": record_id, "forename": "Zebedee", "surname": "Marchbanks",
            "dob": dt.date(1987, 3, 14), "postcode": "CH1 4BJ", "nhs_number": "9434765919" if i % 2 else None,
            "sex": "F", "address_line1": "-1 Acacia Avenue" if i == 0 else "1 Acacia Avenue",
        })
    rows[7]["forename"] = EVIL_FORENAME  # gp 204: a review pair member
    rows[9]["forename"] = "Quentinella"
    return pl.DataFrame(rows)


def _pairs() -> pl.DataFrame:
    rows = []
    for sl, rl, sr, rr, decision, guard, ws in PAIRS:
        w = weight(ws)
        row = {"source_l": sl, "record_id_l": rl, "source_r": sr, "record_id_r": rr, "weight": w,
               "match_probability": prob(w), "decision": decision, "guard": guard}
        row.update({f"w_{f}": x for f, x in zip(FIELDS, ws, strict=True)})
        rows.append(row)
    return pl.DataFrame(rows, schema_overrides={"guard": pl.String})


def _records(previous: bool) -> pl.DataFrame:
    rows = [{"source": s, "record_id": r, "person_id": (prev if previous else now)} for s, r, now, prev, _ in RECORDS]
    df = pl.DataFrame(rows)
    size = df.group_by("person_id").agg(pl.len().alias("cluster_size"))
    return df.join(size, on="person_id").with_columns(pl.lit(0.9).alias("link_confidence"))


def _findings(previous: bool) -> pl.DataFrame:
    if previous:
        rows = [
            ("F2", "significant_adult", "new", ["hv_lead"], "P1", "P3"),
            ("F3", "dual_service_parent", "new", [EVIL_ROUTE], None, "P3"),
            ("F9", "repeated_non_attendance", "new", ["hv_lead"], "P6", None),
        ]
    else:
        rows = [
            ("F1", "repeated_non_attendance", "new", ["hv_lead"], "P1", None),
            ("F2", "significant_adult", "updated", ["hv_lead", "gp_lead"], "P1", "P3"),
            ("F3", "dual_service_parent", "unchanged", [EVIL_ROUTE], None, "P3"),
            ("F4", "unshared_involvement", "new", ["camhs_lead"], "P2", None),
        ]
    df = pl.DataFrame(rows, schema=["finding_id", "rule", "status", "routes", "child_person_id", "adult_person_id"],
                      orient="row")
    return df.with_columns(pl.lit(False).alias("needs_confirmation"), pl.lit(0.9).alias("link_confidence"))


def model_json() -> dict:
    levels = {"forename": ["different", "close", "exact"], "surname": ["different", "exact"],
              "dob": ["different", "exact"], "postcode": ["different", "exact"], "nhs": ["different", "exact"]}
    comps = {}
    for c, lv in levels.items():
        n = len(lv)
        m = [0.05] * (n - 1) + [1 - 0.05 * (n - 1)]
        u = [1 - 0.01 * (n - 1)] + [0.01] * (n - 1)
        comps[c] = {"levels": lv, "m": m, "u": u, "weights": [math.log2(a / b) for a, b in zip(m, u, strict=True)]}
    return {"format": 1, "version": "test-1", "lambda": LAMBDA, "thresholds": {"link": 0.95, "review": 0.5},
            "comparisons": comps}


def make_config(root: Path) -> Path:
    config = config_folder(root / "config")
    (config / "linkage_model.json").write_text(json.dumps(model_json()), encoding="utf-8")
    (config / "linkage.yaml").write_text("thresholds:\n  link: null\n  review: null\n", encoding="utf-8")
    return config


def make_truth(root: Path) -> Path:
    truth = root / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    pl.DataFrame([{"source": s, "record_id": r, "true_person_id": t} for s, r, _, _, t in RECORDS]).write_csv(
        truth / "persons.csv")
    (truth / "findings.csv").write_text(
        "rule,child_true_person_id,adult_true_person_id\n"
        "repeated_non_attendance,T1,\nsignificant_adult,T1,T3\ndual_service_parent,,T3\n"
        "unshared_involvement,T2,\nrepeated_non_attendance,T6,\n", encoding="utf-8")
    return truth


def make_night(root: Path) -> Path:
    """Write tonight's and last night's folders under ``root/out``; return tonight's folder."""
    out = root / "out"
    night = out / TONIGHT.isoformat()
    (night / "landing").mkdir(parents=True)
    (night / "linkage").mkdir()
    (night / "checks" / "gp").mkdir(parents=True)
    (night / "checks" / "hv").mkdir(parents=True)
    _files().write_parquet(night / "landing" / "files.parquet")
    _people().write_parquet(night / "landing" / "people.parquet")
    (night / "checks" / "quarantine.csv").write_text(
        "source,file,row,column,value,reason,check\n"
        "hv,HV_Contacts_20261125.csv,5,Contact Date,3*/**/2026,impossible_date,parse\n"
        "gp,GP_RegisteredPatients_20261125.csv,4,Date of Birth,3*-Feb-2019,impossible_date,parse\n"
        "gp,GP_Appointments_20261125.csv,7,Appointment Date,3*-Feb-2026,impossible_date,parse\n", encoding="utf-8")
    (night / "checks" / "gp" / "gate.json").write_text(json.dumps({"passed": False, "failures": [EVIL_FAILURE]}))
    (night / "checks" / "hv" / "gate.json").write_text(json.dumps({"passed": True, "failures": []}))
    (night / "checks" / "validation.html").write_text("<html><body>validation</body></html>", encoding="utf-8")
    _records(previous=False).write_parquet(night / "linkage" / "records.parquet")
    _pairs().write_parquet(night / "linkage" / "pairs.parquet")
    _findings(previous=False).write_parquet(night / "findings.parquet")
    prev = out / LAST_NIGHT.isoformat()
    (prev / "linkage").mkdir(parents=True)
    _records(previous=True).write_parquet(prev / "linkage" / "records.parquet")
    _findings(previous=True).write_parquet(prev / "findings.parquet")
    mark_complete(prev, {})  # last night's run finished (a night without the marker is left out)
    return night
