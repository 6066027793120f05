"""Tests for the synthetic county generator (synth)."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ground.nhs import is_valid_nhs_number as is_valid_nhs
from synth import generate_county
from synth.nhs import generate_nhs_numbers, mistype_nhs

FIXTURE = Path(__file__).parent / "fixtures" / "sample"
SAMPLE_DATE = "2026-11-25"
DATE = dt.date(2026, 11, 25)
CRLF = {"hv", "gp", "dental"}
PREFIX = {"HV": "hv", "SN": "sn", "CAMHS": "camhs", "GP": "gp", "Dental": "dental", "TP": "tp", "AMH": "amh"}


def _source(name: str) -> str:
    return PREFIX[name.split("_")[0]]


def _encoding(src: str) -> str:
    return {"hv": "utf-8-sig", "dental": "cp1252"}.get(src, "utf-8")


def _header(path: Path) -> str:
    src = _source(path.name)
    text = path.read_bytes().decode(_encoding(src))
    return text.splitlines()[0]


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("county")
    return generate_county(out, DATE, households=120, seed=7)


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("multi")
    return generate_county(out, DATE, households=150, seed=11, nights=3)


def test_all_files_and_success(county) -> None:
    landing = county.landing_dir
    sample = sorted(p.name.replace("20261125", "X") for p in (FIXTURE / SAMPLE_DATE).glob("*.csv"))
    made = sorted(p.name.replace("20261125", "X") for p in landing.glob("*.csv"))
    assert len(made) == 18
    assert made == sample
    assert (landing / "_SUCCESS").exists() and (landing / "_SUCCESS").stat().st_size == 0
    assert landing.name == "2026-11-25"


def test_headers_match_sample(county) -> None:
    for sample in (FIXTURE / SAMPLE_DATE).glob("*.csv"):
        assert _header(county.landing_dir / sample.name) == _header(sample), sample.name


def test_encodings_bom_line_endings(county) -> None:
    for path in county.landing_dir.glob("*.csv"):
        src = _source(path.name)
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") == (src == "hv"), path.name
        lines = data.split(b"\n")[:-1]
        assert lines, path.name
        if src in CRLF:
            assert all(ln.endswith(b"\r") for ln in lines), path.name
        else:
            assert b"\r" not in data, path.name
        data.decode(_encoding(src))  # decodes strictly


def test_field_formats(county) -> None:
    d = county.landing_dir
    hv = pl.read_csv(d / "HV_Caseload_20261125.csv", infer_schema=False, encoding="utf8")
    nhs = hv["NHS Number"].drop_nulls()
    assert nhs.str.contains(r"^\d{3} \d{3} \d{4}$").all()
    gp = pl.read_csv(d / "GP_RegisteredPatients_20261125.csv", infer_schema=False)
    assert gp["Registration Date"].str.contains(r"^\d{2}-[A-Z][a-z]{2}-\d{4}$").all()
    sn_rel = pl.read_csv(d / "SN_RelatedPeople_20261125.csv", infer_schema=False)
    assert sn_rel["RelatedName"].str.contains(r"^[^,]+, .+$").all()
    camhs = pl.read_csv(d / "CAMHS_Referrals_20261125.csv", infer_schema=False)
    assert (camhs["SURNAME"] == camhs["SURNAME"].str.to_uppercase()).all()
    assert camhs["CLIENT_ID"].str.contains(r"^RIO\d{7}$").all()
    dental = pl.read_csv(d / "Dental_Appointments_20261125.csv", infer_schema=False, encoding="utf8-lossy")
    assert dental["Appt Date"].drop_nulls().str.contains(r"^\d{1,2}/\d{1,2}/\d{2}$").all()
    amh_text = (d / "AMH_Patients_20261125.csv").read_text()
    assert ',"' in amh_text


def test_nhs_numbers_valid_unless_mistyped(county) -> None:
    d = county.landing_dir
    cols = {"HV_Caseload": "NHS Number", "SN_Caseload": "NHSNumber", "CAMHS_Referrals": "NHS_NUMBER",
            "GP_RegisteredPatients": "NHS Number", "Dental_Patients": "NHS No", "TP_Clients": "NHS Number",
            "AMH_Patients": "NHS No"}
    invalid = 0
    total = 0
    for stem, col in cols.items():
        path = d / f"{stem}_20261125.csv"
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=True)
        for v in frame[col].drop_nulls().to_list():
            digits = v.replace(" ", "")
            assert digits.startswith("999") and len(digits) == 10
            total += 1
            invalid += not is_valid_nhs(digits)
    assert total > 100
    assert invalid / total < 0.03
    people = pl.read_csv(county.truth_dir / "people.csv", infer_schema=False)
    assert all(is_valid_nhs(v) for v in people["nhs_number"].to_list())


    import numpy as np

    rng = np.random.default_rng(3)
    nums = generate_nhs_numbers(rng, 5000)
    assert len(set(nums)) == 5000
    assert all(is_valid_nhs(n) and 9990000000 <= int(n) <= 9999999999 for n in nums)
    assert not any(is_valid_nhs(mistype_nhs(n, rng)) for n in nums[:200])
    assert is_valid_nhs("943 476 5919") and not is_valid_nhs("9434765918")


def test_deterministic(tmp_path: Path) -> None:
    def digest(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    generate_county(tmp_path / "a", DATE, households=60, seed=5)
    generate_county(tmp_path / "b", DATE, households=60, seed=5)
    generate_county(tmp_path / "c", DATE, households=60, seed=6)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_truth_layout_matches_sample(county) -> None:
    for name in ("persons.csv", "related.csv", "findings.csv", "broken_rows.csv", "households.csv", "people.csv"):
        made = (county.truth_dir / name).read_text().splitlines()[0]
        assert made == (FIXTURE / "truth" / name).read_text().splitlines()[0], name
    assert not any((county.landing_dir).glob("persons.csv"))
    landing_names = {p.name for p in county.landing_dir.iterdir()}
    truth_names = {p.name for p in county.truth_dir.iterdir()}
    assert not landing_names & truth_names


def _read_landing(path: Path) -> list[list[str]]:
    import csv
    import io

    src = _source(path.name)
    text = path.read_bytes().decode(_encoding(src))
    return list(csv.reader(io.StringIO(text, newline="")))


def test_truth_consistent_with_files(county) -> None:
    truth = county.truth_dir
    persons = pl.read_csv(truth / "persons.csv", infer_schema=False)
    broken = pl.read_csv(truth / "broken_rows.csv", infer_schema=False)
    counts = json.loads((truth / "counts.json").read_text())
    people_files = {"hv": "HV_Caseload", "sn": "SN_Caseload", "camhs": "CAMHS_Referrals",
                    "gp": "GP_RegisteredPatients", "dental": "Dental_Patients", "tp": "TP_Clients",
                    "amh": "AMH_Patients"}
    for path in sorted(county.landing_dir.glob("*.csv")):
        rows = _read_landing(path)
        header, data = rows[0], rows[1:]
        fc = counts["files"][path.name]
        assert fc["rows"] == len(data), path.name
        lines = path.read_bytes().splitlines()[1:]
        assert fc["duplicate_rows"] == len(lines) - len(set(lines)), path.name
        bad = broken.filter(pl.col("file") == path.name)
        assert fc["broken_rows"] == len(bad), path.name
        bad_rows = {int(x) for x in bad["row_number"].to_list()}
        for j, row in enumerate(data, start=2):
            if j not in bad_rows:
                assert len(row) == len(header), (path.name, j)
        src = _source(path.name)
        if path.name.startswith(people_files[src]):
            good_ids = {row[0] for j, row in enumerate(data, start=2) if j not in bad_rows}
            truth_ids = set(persons.filter(pl.col("source") == src)["record_id"].to_list())
            assert good_ids == truth_ids, path.name
    related = pl.read_csv(truth / "related.csv", infer_schema=False)
    for (fname,), grp in related.group_by(["file"]):
        rows = _read_landing(county.landing_dir / fname)
        for rn, owner in zip(grp["row_number"].to_list(), grp["owner_record_id"].to_list(), strict=True):
            assert rows[int(rn) - 1][0] == owner
    people = set(pl.read_csv(truth / "people.csv", infer_schema=False)["true_person_id"].to_list())
    assert set(persons["true_person_id"].to_list()) <= people
    assert set(related["true_person_id"].to_list()) <= people
    src_counts = counts["sources"]
    for src in people_files:
        assert src_counts[src]["people_records"] == persons.filter(pl.col("source") == src).height


def test_broken_reasons_and_findings(tmp_path: Path) -> None:
    res = generate_county(tmp_path, DATE, households=400, seed=2)
    broken = pl.read_csv(res.truth_dir / "broken_rows.csv", infer_schema=False)
    assert broken.height > 0
    assert set(broken["reason"].to_list()) <= {"impossible_date", "blank_surname", "unparseable_line",
                                                 "blank_identifier"}
    findings = pl.read_csv(res.truth_dir / "findings.csv", infer_schema=False)
    assert findings.height > 0
    assert set(findings["rule"].to_list()) <= {"significant_adult", "dual_service_parent",
                                               "repeated_non_attendance", "unshared_involvement", "cumulative_concern"}
    # cumulative_concern: exactly the children named by findings of two or more of the other rules
    others = findings.filter(pl.col("rule") != "cumulative_concern").drop_nulls("child_true_person_id")
    named_twice = others.group_by("child_true_person_id").agg(pl.col("rule").n_unique().alias("n")).filter(
        pl.col("n") >= 2)
    cumulative = findings.filter(pl.col("rule") == "cumulative_concern")
    assert cumulative.height > 0
    assert sorted(cumulative["child_true_person_id"].to_list()) == sorted(named_twice["child_true_person_id"])
    assert cumulative["adult_true_person_id"].null_count() == cumulative.height
    ids = set(pl.read_csv(res.truth_dir / "people.csv", infer_schema=False)["true_person_id"].to_list())
    for col in ("child_true_person_id", "adult_true_person_id"):
        assert set(findings[col].drop_nulls().to_list()) <= ids


def test_multi_night_stability(multi) -> None:
    assert len(multi.nights) == 3
    dates = [n.extract_date for n in multi.nights]
    assert dates == [DATE + dt.timedelta(days=k) for k in range(3)]
    for n in multi.nights:
        assert (n.landing_dir / "_SUCCESS").exists()
        stamp = n.extract_date.strftime("%Y%m%d")
        assert len(list(n.landing_dir.glob(f"*_{stamp}.csv"))) == 18
        assert n.truth_dir.name == n.extract_date.isoformat()
    maps = []
    for n in multi.nights:
        p = pl.read_csv(n.truth_dir / "persons.csv", infer_schema=False)
        maps.append(dict(zip(zip(p["source"], p["record_id"], strict=True), p["true_person_id"], strict=True)))
    for a, b in itertools.pairwise(maps):
        common = set(a) & set(b)
        assert len(common) > 0.95 * len(a)
        assert all(a[k] == b[k] for k in common)
    peo = [pl.read_csv(n.truth_dir / "people.csv", infer_schema=False) for n in multi.nights]
    first = dict(zip(peo[0]["true_person_id"], peo[0]["date_of_birth"], strict=True))
    last = dict(zip(peo[-1]["true_person_id"], peo[-1]["date_of_birth"], strict=True))
    assert all(last[k] == v for k, v in first.items())


def test_the_test_range_capacity_is_every_valid_number_in_it() -> None:
    from ground.nhs import is_valid_nhs_number
    from synth.nhs import TEST_RANGE_CAPACITY

    sample = range(9990000000, 9990000000 + 200_000, 10)  # every stem's number with its own check digit
    valid_share = sum(any(is_valid_nhs_number(str(s + d)) for d in range(10)) for s in sample) / len(sample)
    assert pytest.approx(1_000_000 * valid_share, rel=0.01) == TEST_RANGE_CAPACITY
    with pytest.raises(ValueError, match="test range holds"):
        generate_nhs_numbers(np.random.default_rng(1), TEST_RANGE_CAPACITY + 1)


def test_a_population_beyond_the_test_range_numbers_a_random_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    import synth.population as population

    monkeypatch.setattr(population, "TEST_RANGE_CAPACITY", 50)
    pop = population.Population(60, 3, dt.date(2026, 11, 25), dt.date(2026, 12, 25))
    numbered = [p.nhs for p in pop.people if p.nhs]
    assert len(pop.people) > 50
    assert len(numbered) == 50
    assert len(set(numbered)) == 50
    assert all(n.startswith("999") for n in numbered)
