"""The generator's own drop, ingested, reproduces its truth counts exactly (no row lost or invented)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from landing.ingest import ingest_drop
from synth import generate_county

DATE = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, sources_config):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("county")
    county = generate_county(root, DATE, households=400, seed=11)
    night = root / "out" / DATE.isoformat()
    result = ingest_drop(county.nights[0].landing_dir.parent, DATE, sources_config, night)
    return county, night, result


def test_file_counts_match_truth(generated) -> None:  # type: ignore[no-untyped-def]
    county, _, result = generated
    truth = json.loads((county.truth_dir / "counts.json").read_text())["files"]
    got = {c.file: {"rows": c.rows_read, "duplicate_rows": c.duplicates, "broken_rows": c.quarantined}
           for c in result.files}
    assert got == {name: {k: v[k] for k in ("rows", "duplicate_rows", "broken_rows")} for name, v in truth.items()}


def test_rows_set_aside_are_the_broken_rows(generated) -> None:  # type: ignore[no-untyped-def]
    county, night, _ = generated
    quarantine = pl.read_csv(night / "checks" / "quarantine.csv").select("file", "row", "reason").sort("file", "row")
    truth = pl.read_csv(Path(county.truth_dir) / "broken_rows.csv").select(
        "file", pl.col("row_number").alias("row"), "reason").sort("file", "row")
    assert_frame_equal(quarantine, truth)


def test_people_records_match_truth(generated) -> None:  # type: ignore[no-untyped-def]
    county, night, _ = generated
    people = pl.read_parquet(night / "landing" / "people.parquet").select("source", "record_id")
    truth = pl.read_csv(Path(county.truth_dir) / "persons.csv", schema_overrides={"record_id": pl.String})
    keys = ["source", "record_id"]
    assert_frame_equal(people.sort(keys), truth.select(keys).sort(keys))
    per_source = json.loads((county.truth_dir / "counts.json").read_text())["sources"]
    counts = dict(people.group_by("source").len().iter_rows())
    assert counts == {s: v["people_records"] for s, v in per_source.items()}
