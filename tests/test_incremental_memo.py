"""Incremental nights, stage by stage: the ingest memo and the gate's suite memo reuse a result only when it is
certainly tonight's, and a changed configuration, another version or a damaged memo computes afresh."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from checks.config import load_checks
from checks.memo import MemoRunner
from checks.suites import Check, Declared, SuiteSpec, declare_suites, gxe
from ground.layout import NightLayout
from ground.sources import load_sources
from safelink.incremental import ingest_and_gate
from tests.helpers.nights import redate_drop
from tests.helpers.sample import CONFIG_DIR, SAMPLE_DATE, SAMPLE_LANDING

LATER = SAMPLE_DATE + dt.timedelta(days=2)


def test_declared_expectations_answer_as_the_gx_objects_they_build() -> None:
    sources, checks = load_sources(CONFIG_DIR / "sources.yaml"), load_checks(CONFIG_DIR / "checks.yaml")
    seen = 0
    for source, spec in sources.sources.items():
        for suite in declare_suites(source, spec, checks, SAMPLE_DATE, sources.allow_test_range_nhs_numbers).values():
            for check in suite.checks:
                declared, built = check.expectation, check.expectation.build()
                assert declared.expectation_type == built.expectation_type
                assert declared.column == getattr(built, "column", None)
                assert declared.mostly == float(getattr(built, "mostly", 1) or 1)
                assert hasattr(built, "mostly")
                assert built.meta == declared.meta and built.meta["check"] == check.name
                seen += 1
    assert seen > 50


class _Counting:
    """A stand-in for Great Expectations: every dob on or before ``max_value`` passes."""

    def __init__(self) -> None:
        self.calls = 0

    def run(self, suite: SuiteSpec, frame: pd.DataFrame) -> dict[str, dict[str, object]]:
        self.calls += 1
        check = suite.checks[0]
        bad = [int(i) for i in frame.index[frame["dob"] > check.expectation.kwargs["max_value"]]]
        return {check.name: {"success": not bad, "result": {"unexpected_index_list": bad}, "error": None,
                             "type": check.expectation.expectation_type}}


def _suite(max_value: int) -> SuiteSpec:
    suite = SuiteSpec(name="hv.people", batch="rows", file=None)
    suite.add(Check("dob_not_future", "flag", gxe.ExpectColumnValuesToBeBetween(column="dob", max_value=max_value),
                    "DOB", None, "on or before the extract date"))
    return suite


def test_the_suite_memo_reuses_an_outcome_only_while_no_value_lies_between_the_bounds(tmp_path: Path) -> None:
    frame = pd.DataFrame({"dob": [20200101, 20261124, 20261128]}, index=pd.Index([2, 3, 4], name="row"))
    path = tmp_path / "hv.json"
    gx = _Counting()
    first = MemoRunner(path, "v1", lambda: gx)
    outcome = first.run(_suite(20261125), frame)
    first.save()
    assert outcome["dob_not_future"]["result"] == {"unexpected_index_list": [4]}

    later = MemoRunner(path, "v1", lambda: gx)  # two nights on: 20261125 -> 20261127, no dob in between
    assert later.run(_suite(20261127), frame) == outcome
    assert (gx.calls, later.reused, later.ran) == (1, 1, 0)

    crossing = MemoRunner(path, "v1", lambda: gx)  # 20261128 now passes: the suite must run
    assert crossing.run(_suite(20261129), frame)["dob_not_future"]["result"] == {"unexpected_index_list": []}
    assert (gx.calls, crossing.reused) == (2, 0)

    changed = frame.assign(dob=[20200101, 20261124, 20261120])  # another value: another frame
    assert MemoRunner(path, "v1", lambda: gx).run(_suite(20261125), changed)["dob_not_future"]["success"]
    assert gx.calls == 3
    other_version = MemoRunner(path, "v2", lambda: gx)
    other_version.run(_suite(20261125), frame)
    assert (gx.calls, other_version.reused) == (4, 0)


def test_a_damaged_suite_memo_runs_every_suite_and_says_so_without_values(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "hv.json"
    path.write_text('{"version": "v1", "entries": {"x": ["DOB 2019-01-01"', encoding="utf-8")
    gx = _Counting()
    with caplog.at_level(logging.WARNING, logger="checks.memo"):
        runner = MemoRunner(path, "v1", lambda: gx)
        runner.run(_suite(20261125), pd.DataFrame({"dob": [20200101]}))
    assert gx.calls == 1
    assert [r.getMessage() for r in caplog.records] == [
        "gate memo hv.json cannot be read (JSONDecodeError): running every suite"]


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A landing root holding the sample drop and the same files as the night two days later; a config copy."""
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING / SAMPLE_DATE.isoformat(), landing / SAMPLE_DATE.isoformat())
    redate_drop(landing, SAMPLE_DATE, LATER)
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    return landing, tmp_path / "out", config


def _night(landing: Path, output: Path, config: Path, day: dt.date, source: str) -> dict[str, object]:
    night_dir = output / day.isoformat()
    _, _, reuse = ingest_and_gate(landing, day, load_sources(config / "sources.yaml"), source, night_dir, config,
                                  output / "night_memo")
    return reuse


def test_unchanged_files_reuse_ingest_and_gate_and_land_tonights_file_names(
        deployment: tuple[Path, Path, Path]) -> None:
    landing, out, config = deployment
    assert _night(landing, out, config, SAMPLE_DATE, "tp") == {"ingest_reused": False, "suites_reused": 0,
                                                               "suites_run": 4}
    reuse = _night(landing, out, config, LATER, "tp")
    # the first night never completed here, so neither night has a previous one: the files batch is the same too
    assert reuse == {"ingest_reused": True, "suites_reused": 4, "suites_run": 0}
    tonight = NightLayout.of(out, LATER).source("tp")
    files = pl.read_parquet(tonight / "people.parquet")["file"].unique().to_list()
    assert files == ["TP_Clients_20261127.csv"]
    status = json.loads((tonight / "status.json").read_text(encoding="utf-8"))
    assert {f["file"][-12:] for f in status["files"]} == {"20261127.csv"}


def test_a_changed_configuration_computes_afresh(deployment: tuple[Path, Path, Path]) -> None:
    landing, out, config = deployment
    _night(landing, out, config, SAMPLE_DATE, "tp")
    checks = config / "checks.yaml"
    checks.write_text(checks.read_text(encoding="utf-8").replace("outcome: {mostly: 0.99}",
                                                                 "outcome: {mostly: 0.98}"), encoding="utf-8")
    assert _night(landing, out, config, LATER, "tp") == {"ingest_reused": True, "suites_reused": 0,
                                                         "suites_run": 4}
    sources = config / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert not _night(landing, out, config, LATER, "tp")["ingest_reused"]


def test_a_date_of_birth_between_the_nights_ingests_afresh(deployment: tuple[Path, Path, Path]) -> None:
    landing, out, config = deployment
    _night(landing, out, config, SAMPLE_DATE, "tp")
    memo = out / "night_memo" / "ingest" / "tp" / "people.parquet"
    people = pl.read_parquet(memo)
    # as if one landed date of birth were the day after the first night: tonight it is no longer in the future
    people.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(SAMPLE_DATE + dt.timedelta(days=1))
                        .otherwise(pl.col("dob")).alias("dob")).write_parquet(memo)
    assert not _night(landing, out, config, LATER, "tp")["ingest_reused"]


def test_the_files_batch_is_keyed_on_the_columns_its_expectations_read() -> None:
    from checks.memo import _read_columns
    from checks.suites import files_suite

    suite = files_suite("tp", load_checks(CONFIG_DIR / "checks.yaml"), missing_allowed=True)
    frame = pd.DataFrame({c: [1] for c in ("file", "table", "status", "rows_read", "min_rows", "quarantined_share",
                                           "row_ratio", "missing_columns", "layout_differences", "previous_rows")})
    assert _read_columns(suite, frame) == ["layout_differences", "min_rows", "missing_columns", "quarantined_share",
                                           "row_ratio", "rows_read", "status"]  # not the file names with their date
    table = SuiteSpec(name="t", batch="rows", file=None)
    table.add(Check("rows", "flag", gxe.ExpectTableRowCountToBeBetween(min_value=1), None, None, "rows"))
    assert _read_columns(table, frame) == list(frame.columns)


def test_declared_is_what_the_memo_keys_on() -> None:
    declared = Declared("ExpectColumnValuesToBeBetween", column="dob", max_value=20261125)
    assert (declared.expectation_type, declared.column, declared.mostly) == (
        "expect_column_values_to_be_between", "dob", 1.0)
