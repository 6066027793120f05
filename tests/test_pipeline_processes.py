"""The night's independent work in local processes: ingest and the gate of every source (``run_night``), and the
comparisons of a first night (``compare_levels_in_processes``) give what one process gives, failures included."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from linkage.prepare import compare_levels, compare_levels_in_processes
from linkage.standardise import standardise_people
from safelink import pipeline
from safelink.pipeline import Night, RunSummary, ingest_sources, stage_wait
from tests.helpers.config import CONFIG_DIR
from tests.helpers.sample import SAMPLE_DATE, SAMPLE_LANDING


def _drop(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING / SAMPLE_DATE.isoformat(), landing / SAMPLE_DATE.isoformat())
    # amh's people file loses its columns: the source fails its ingest and is excluded, with a warning
    (landing / SAMPLE_DATE.isoformat() / "AMH_Patients_20261125.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    return landing


def _ingested(landing: Path, output: Path, processes: int) -> RunSummary:
    night = Night(landing=landing, output=output, extract_date=SAMPLE_DATE, config_dir=CONFIG_DIR,
                  processes=processes)
    stage_wait(night)
    summary = RunSummary(extract_date=SAMPLE_DATE.isoformat())
    ingest_sources(night, summary, None)
    return summary


def _written(night_dir: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for path in sorted(night_dir.rglob("*")):
        rel = str(path.relative_to(night_dir))
        if path.suffix == ".parquet":
            out[rel] = pl.read_parquet(path).to_dicts()
        elif path.name in ("gate.json", "status.json"):
            doc = json.loads(path.read_text(encoding="utf-8"))
            doc.pop("seconds", None)
            out[rel] = doc
    return out


def test_sources_ingested_in_two_processes_equal_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    landing = _drop(tmp_path)
    one = _ingested(landing, tmp_path / "one", 1)
    monkeypatch.setattr(pipeline, "MIN_DROP_BYTES_PER_PROCESS", 1)  # the sample drop is small
    with caplog.at_level(logging.INFO):
        two = _ingested(landing, tmp_path / "two", 2)

    sources = [f"ingest_{s}" for s in ("hv", "sn", "camhs", "gp", "dental", "tp", "amh")]
    assert list(two.stages) == list(one.stages) == sources
    assert two.stages == one.stages
    assert (one.stages["ingest_amh"]["status"], one.stages["ingest_amh"]["gate"]) == ("failed", "failed")
    night = SAMPLE_DATE.isoformat()
    assert _written(tmp_path / "two" / night) == _written(tmp_path / "one" / night)
    children = [r for r in caplog.records if r.process != os.getpid()]
    # the failed source's gate line comes from a process of its own, through this process's handlers
    assert [r.getMessage().split(" (")[0] for r in children
            if r.getMessage().startswith("gate amh:")] == ["gate amh: failed"], caplog.text


def test_drop_sizes_in_configuration_order(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    day = landing / "2026-11-25"
    day.mkdir(parents=True)
    (day / "GP_RegisteredPatients_20261125.csv").write_bytes(b"x" * 30)
    (day / "GP_Appointments_20261125.csv").write_bytes(b"x" * 12)
    (day / "HV_Caseload_20261125.csv").write_bytes(b"x" * 5)
    sizes = pipeline.drop_sizes(landing, dt.date(2026, 11, 25), Night(landing, tmp_path, SAMPLE_DATE).sources())
    assert sizes == {"hv": 5, "sn": 0, "camhs": 0, "gp": 42, "dental": 0, "tp": 0, "amh": 0}
    assert list(sizes) == ["hv", "sn", "camhs", "gp", "dental", "tp", "amh"]


PEOPLE = pl.DataFrame({
    "source": ["gp", "hv", "gp", "dental", "sn", "hv"],
    "record_id": ["1", "2", "3", "4", "5", "6"],
    "forename": ["Amelia", "Amelia", "Jack", "Jak", "Olivia", "Oliver"],
    "surname": ["Hughes", "Hughes", "Price", "Price", "Khan", "Khan"],
    "dob": [dt.date(2015, 3, 1), dt.date(2015, 3, 1), dt.date(1988, 7, 9), dt.date(1988, 9, 7),
            dt.date(2019, 1, 2), dt.date(2019, 1, 2)],
    "sex": ["F", "F", "M", "M", "F", "M"],
    "postcode": ["CW9 2WD", "CW9 2WD", "CH1 1AA", "CH1 1AB", "WA4 6QR", "WA4 6QR"],
    "address": ["1 Park Place", "1 Park Pl", "3 Mill St", "3 Mill Street", "9 Elm Road", "9 Elm Road"],
    "nhs_number": ["9990000018", None, "9990000026", "9990000026", None, None],
    "nhs_status": ["01", None, None, None, None, None],
})


def test_comparisons_in_two_processes_equal_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from linkage import prepare

    records = standardise_people(PEOPLE, CONFIG_DIR / "nicknames.yaml")
    pairs = pl.DataFrame({"uid_l": [0, 0, 1, 2, 4, 3], "uid_r": [1, 5, 5, 3, 5, 4], "passes": [1, 2, 3, 4, 5, 6]})
    one = compare_levels(records, pairs, CONFIG_DIR)
    monkeypatch.setattr(prepare, "MIN_PAIRS_PER_PROCESS", 2)
    two = compare_levels_in_processes(records, pairs, CONFIG_DIR, 2)
    assert two.equals(one)
    assert two.select("uid_l", "uid_r", "passes").equals(pairs)
    assert one.width > pairs.width


def test_the_processes_server_starts_ahead_only_for_a_drop_that_ingest_will_split(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[bool] = []
    monkeypatch.setattr("ground.processes.start_server", lambda: started.append(True))
    landing = _drop(tmp_path)
    night = Night(landing=landing, output=tmp_path / "out", extract_date=SAMPLE_DATE, config_dir=CONFIG_DIR,
                  processes=2)
    assert not pipeline.start_processes_early(night) and not started  # the sample drop is small
    monkeypatch.setattr(pipeline, "MIN_DROP_BYTES_PER_PROCESS", 1)
    assert not pipeline.start_processes_early(Night(landing=landing, output=tmp_path / "out", config_dir=CONFIG_DIR,
                                                    extract_date=SAMPLE_DATE, processes=1))
    assert pipeline.start_processes_early(night) and started == [True]
    broken = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, broken)
    (broken / "sources.yaml").write_text("sources: [", encoding="utf-8")
    # an unreadable configuration starts nothing: the configuration stage reports it
    assert not pipeline.start_processes_early(Night(landing=landing, output=tmp_path / "out", config_dir=broken,
                                                    extract_date=SAMPLE_DATE, processes=2))
    assert started == [True]
