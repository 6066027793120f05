"""Incremental nights end to end: a night that reuses the deployment's memo (ingest, gate) and comparison cache
writes byte for byte what a full recompute of the same night in the same deployment writes."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ground.layout import NightLayout
from ground.memo import memo_dir
from tests.helpers.nights import redate_drop, safelink
from tests.helpers.sample import generated_drop

DATE = dt.date(2026, 11, 25)
LATER = DATE + dt.timedelta(days=2)
CONTRACT = ("person_links.csv", "findings.csv")


def _run(landing: Path, day: dt.date, output: Path, *extra: str) -> dict[str, bytes]:
    safelink("run", "--landing", landing, "--date", day.isoformat(), "--output", output, *extra)
    night = NightLayout.of(output, day)
    return {name: (night.root / name).read_bytes() for name in CONTRACT}


def _ingest_stages(output: Path, day: dt.date) -> dict[str, dict[str, Any]]:
    summary = json.loads(NightLayout.of(output, day).run_summary.read_text(encoding="utf-8"))
    return {k: v for k, v in summary["stages"].items() if k.startswith("ingest_")}


@pytest.mark.slow
def test_an_incremental_night_writes_what_a_full_recompute_writes(tmp_path: Path) -> None:
    landing = generated_drop(tmp_path, DATE, 300, 23)
    redate_drop(landing, DATE, LATER)  # the next night's drop: every file byte for byte the same
    out = tmp_path / "out"
    _run(landing, DATE, out)
    memo = memo_dir(out)
    assert sorted(p.name for p in (memo / "ingest").iterdir()) == ["amh", "camhs", "dental", "gp", "hv", "sn", "tp"]
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in memo.rglob("*") if p.is_file())

    incremental = _run(landing, LATER, out)
    stages = _ingest_stages(out, LATER)
    reused = {k for k, v in stages.items() if v["ingest_reused"]}
    assert len(reused) >= 5  # a source whose landed dates lie near tonight is ingested again, by design
    assert sum(int(v["suites_reused"]) for v in stages.values()) > 0

    full = _run(landing, LATER, out, "--full")  # the same night again, in the same deployment, from scratch
    assert not any(v.get("ingest_reused") for v in _ingest_stages(out, LATER).values())
    assert incremental == full
    assert full["person_links.csv"].count(b"\n") > 500 and full["findings.csv"].count(b"\n") > 1


@pytest.mark.slow
def test_a_damaged_memo_falls_back_to_a_full_night_with_a_warning(tmp_path: Path) -> None:
    landing = generated_drop(tmp_path, DATE, 120, 5)
    redate_drop(landing, DATE, LATER)
    out = tmp_path / "out"
    _run(landing, DATE, out)
    memo = memo_dir(out)
    (memo / "ingest" / "gp" / "people.parquet").write_bytes(b"not parquet")
    (memo / "gate" / "hv.json").write_text("{not json", encoding="utf-8")
    shutil.rmtree(memo / "ingest" / "sn")
    damaged = _run(landing, LATER, out)
    stages = _ingest_stages(out, LATER)
    assert not stages["ingest_gp"]["ingest_reused"] and not stages["ingest_sn"]["ingest_reused"]
    assert stages["ingest_hv"]["suites_reused"] == 0
    log = "\n".join(p.read_text(encoding="utf-8") for p in (out / "logs").rglob("*") if p.is_file())
    assert "ingest memo for gp cannot be read" in log and "gate memo hv.json cannot be read" in log
    assert _run(landing, LATER, out, "--full") == damaged
