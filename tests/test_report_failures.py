"""The report under the faults of issue #15 row 16: dates from Airflow, a failed section, an incomplete drop."""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
import polars as pl
import pytest
from sqlalchemy import insert

from ground.state import open_state
from linkage.state_tables import LinkagePersonEvent
from report import build_report
from report.build import ReportSectionsFailed
from tests.test_report import parse
from tests.test_report_fixtures import LAST_NIGHT, TONIGHT, make_config, make_night


def _state_with_events(tmp_path: Path, merges: int, splits: int) -> str:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    engine = open_state(url)
    rows = [{"extract_date": TONIGHT, "kind": kind, "person_id": f"P{i:05d}", "other_person_id": f"Q{i:05d}"}
            for i, kind in enumerate(["merge"] * merges + ["split"] * splits)]
    with engine.begin() as conn:
        conn.execute(insert(LinkagePersonEvent), rows)
    engine.dispose()
    return url


def test_a_pendulum_date_from_airflow_reaches_the_id_events_section(tmp_path: Path) -> None:
    night = make_night(tmp_path)
    url = _state_with_events(tmp_path, merges=3, splits=2)
    airflow_date = pendulum.date(TONIGHT.year, TONIGHT.month, TONIGHT.day)  # what a task's context hands over

    result = build_report(night, make_config(tmp_path), url, airflow_date)

    assert result.failed_sections == [] and not any("(error)" in u for u in result.unavailable)
    doc = parse(result.report.read_text(encoding="utf-8"))
    # the linkage engine's own events (3 / 2), not the comparison of the two nights' files (1 / 1)
    assert (doc.metrics["merges"], doc.metrics["splits"]) == ("3", "2")


def test_a_failed_section_fails_the_report_loudly_after_the_page_says_what_is_missing(tmp_path: Path) -> None:
    night = make_night(tmp_path)
    # a past night written by another version: its row counts have no source column, so the trends fail
    past = tmp_path / "out" / LAST_NIGHT.isoformat() / "landing"
    past.mkdir()
    pl.DataFrame({"x": [1]}).write_parquet(past / "files.parquet")

    with pytest.raises(ReportSectionsFailed) as raised:
        build_report(night, make_config(tmp_path), f"sqlite:///{tmp_path / 's.sqlite'}", TONIGHT)

    assert raised.value.failed == {"trends": "ColumnNotFoundError"}
    assert str(raised.value).startswith("report: section(s) failed: trends (ColumnNotFoundError); report.html was "
                                        "written without them and names them at the top")
    assert "\n" not in str(raised.value)
    html = (night / "report.html").read_text(encoding="utf-8")
    top = html.index('id="sections-failed"')
    assert top < html.index('<section id="data-quality"')
    assert "this section failed tonight and is missing below: trends." in html
    doc = parse(html)
    assert doc.metrics["records"] == "10" and doc.metrics["findings"] == "4"  # the rest of the page is there


def test_the_incomplete_drop_and_missing_sources_are_at_the_top(tmp_path: Path) -> None:
    night = make_night(tmp_path)
    (night / "landing" / "drop.json").write_text(json.dumps({
        "complete_drop": False, "sources_expected": ["hv", "sn", "camhs", "gp", "dental", "tp", "amh"],
        "sources_present": ["hv", "gp", "dental", "tp", "amh"], "sources_missing": ["sn", "camhs"],
        "sources_failed": []}), encoding="utf-8")

    result = build_report(night, make_config(tmp_path), f"sqlite:///{tmp_path / 's.sqlite'}", TONIGHT)

    html = result.report.read_text(encoding="utf-8")
    first_section = html.index('<section id="data-quality"')
    assert result.complete_drop is False
    assert html.index('id="drop-incomplete"') < first_section
    assert html.index('id="top-sources-missing"') < first_section
    assert ("Sources missing tonight (their people are kept as they were, not treated as gone): "
            "camhs, dental, sn.") in html
    # the fixture's amh file is unreadable and its gp gate failed: named at the top as well
    assert ("Sources that failed tonight (unreadable, or stopped by the data-quality gate; left out of linkage): "
            "amh, gp.") in html


def test_a_complete_drop_is_not_called_incomplete(tmp_path: Path) -> None:
    night = make_night(tmp_path)
    (night / "landing" / "drop.json").write_text(json.dumps({
        "complete_drop": True, "sources_missing": [], "sources_failed": []}), encoding="utf-8")

    result = build_report(night, make_config(tmp_path), f"sqlite:///{tmp_path / 's.sqlite'}", TONIGHT)

    html = result.report.read_text(encoding="utf-8")
    assert result.complete_drop is True
    assert 'id="drop-incomplete"' not in html and 'id="drop-unknown"' not in html
    # what the landing counts show missing or failed is still named at the top
    assert result.sources_missing == ["dental"] and sorted(result.sources_failed) == ["amh", "gp"]
    assert "(their people are kept as they were, not treated as gone): dental." in html


def test_the_review_section_names_the_command_to_import_decisions(tmp_path: Path) -> None:
    night = make_night(tmp_path)
    result = build_report(night, make_config(tmp_path), f"sqlite:///{tmp_path / 's.sqlite'}", TONIGHT)
    html = result.report.read_text(encoding="utf-8")
    assert ("import it with <code>safelink review import review/review_pairs.csv --output &lt;output folder&gt; "
            "--reviewer \"&lt;your name&gt;\"</code>") in html
    assert "import_review" not in html
