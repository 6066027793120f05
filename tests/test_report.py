"""The nightly report rendered from a small synthetic night folder (tests/test_report_fixtures.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.state import open_state
from report import ReportResult, build_report
from report.state_tables import ReportNightlyMetrics
from tests.test_report_fixtures import (
    EVIL_FAILURE,
    EVIL_ROUTE,
    EXPECTED,
    LAST_NIGHT,
    SECRET_NAMES,
    TONIGHT,
    make_config,
    make_night,
    make_truth,
)


class _Collect(HTMLParser):
    """Collects data-metric values, section ids, table rows by id and resource references."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[str, str] = {}
        self.sections: list[str] = []
        self.refs: list[tuple[str, str, str]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._metric: str | None = None
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._buf = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.sections.append(str(a["id"]))
        if a.get("data-metric"):
            self._metric, self._buf = str(a["data-metric"]), ""
        for attr in ("src", "href", "xlink:href", "data"):
            if a.get(attr):
                self.refs.append((tag, attr, str(a[attr])))
        if tag == "table" and a.get("id"):
            self._table = str(a["id"])
            self.tables[self._table] = []
        if tag == "tr" and self._table:
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "b") and self._metric:
            self.metrics[self._metric] = self._buf.strip()
            self._metric = None
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._metric:
            self._buf += data
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    return p


@pytest.fixture()
def built(tmp_path: Path) -> tuple[ReportResult, str, Path]:
    night = make_night(tmp_path)
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    result = build_report(night, make_config(tmp_path), url, TONIGHT, truth_dir=make_truth(tmp_path))
    return result, result.report.read_text(encoding="utf-8"), tmp_path


def test_report_sections_and_numbers(built: tuple[ReportResult, str, Path]) -> None:
    result, html, _ = built
    doc = parse(html)
    assert doc.sections == ["data-quality", "linkage", "explanations", "findings", "review", "responses", "trends",
                            "accuracy"]
    for key, value in EXPECTED.items():
        assert doc.metrics.get(key) == value, (key, doc.metrics.get(key))
    # the result's counts match the fixture
    assert (result.rows_read, result.accepted, result.quarantined, result.duplicates) == (47, 42, 3, 2)
    assert (result.records, result.persons, result.links, result.review_pairs) == (10, 6, 5, 2)
    assert result.sources_missing == ["dental"]
    assert sorted(result.sources_failed) == ["amh", "gp"]
    assert result.precision == pytest.approx(0.8) and result.recall == pytest.approx(0.8)
    assert (result.findings, result.findings_new, result.findings_closed) == (4, 2, 1)
    assert result.summary()["report"].endswith("report.html")

    dq = {row[0]: row for row in doc.tables["dq-table"][1:]}
    assert dq["dental"][1] == "missing" and dq["amh"][1] == "failed" and dq["gp"][1] == "gate failed"
    assert dq["gp"][3:7] == ["26", "24", "2", "0"]  # rows read, accepted, set aside, duplicates
    assert dq["gp"][8] == "1"  # one failed check
    assert ("a", "href", "checks/validation.html") in doc.refs
    assert "dental" in html.split('id="sources-missing"')[1].split("</p>")[0]

    matrix = doc.tables["link-matrix"]
    header = matrix[0][1:]
    cell = {(row[0], header[i]): row[i + 1] for row in matrix[1:] for i in range(len(header))}
    assert header == ["hv", "sn", "camhs", "gp", "dental", "tp", "amh"]
    assert cell[("hv", "gp")] == cell[("gp", "hv")] == "1"
    assert cell[("gp", "gp")] == "0"  # the gp–gp pair is only for review
    assert cell[("gp", "hv")] == "1"  # the guard-cut gp–hv link is not counted
    assert sum(int(v) for (a, b), v in cell.items() if a <= b) == 5

    assert doc.tables["guards"][1] == ["namesake", "1"]
    per_source = {r[0]: r[1:3] for r in doc.tables["per-source"][1:]}
    assert per_source["gp"] == ["5", "5"] and per_source["hv"] == ["2", "2"]
    assert doc.tables["cluster-sizes"] == [["records per person", "1", "2", "3"], ["persons", "3", "2", "1"]]
    model = doc.tables["model"]
    assert len(model) == 1 + 3 + 2 * 4 and model[1][:2] == ["forename", "different"]

    findings = {r[0]: r[1:6] for r in doc.tables["findings-table"][1:]}
    assert findings["repeated_non_attendance"] == ["1", "1", "0", "0", "1"]
    assert findings["significant_adult"] == ["1", "0", "1", "0", "0"]
    routes = {(r[0], r[1]): r[2] for r in doc.tables["routes"][1:]}
    assert routes[("hv_lead", "repeated_non_attendance")] == "1"
    assert routes[(EVIL_ROUTE, "dual_service_parent")] == "1"

    # waterfalls: 5 accepted-or-guarded links sampled + both review pairs, identified by source:record_id
    assert html.count('class="pair"') == 6 + 2
    assert "gp:204" in html and "hv:102" in html
    assert len(doc.tables["trend-table"]) == 3  # header + last night (from its folder) + tonight


def test_report_lists_the_blocking_passes_with_too_common_keys(tmp_path: Path) -> None:
    night = make_night(tmp_path)
    counts = {"nhs": {"pairs": 12, "cap": 300, "block_pairs_cap": 0, "subdivided_keys": 0, "skipped_keys": 0},
              "postcode_birth_year": {"pairs": 4000, "cap": 300, "block_pairs_cap": 28, "subdivided_keys": 51,
                                      "skipped_keys": 2}}
    (night / "linkage" / "model_check.json").write_text(json.dumps({"blocking": counts}), encoding="utf-8")
    result = build_report(night, make_config(tmp_path), f"sqlite:///{tmp_path / 's.sqlite'}", TONIGHT)
    doc = parse(result.report.read_text(encoding="utf-8"))
    assert doc.tables["blocking"] == [
        ["blocking pass", "pairs", "cap (records)", "cap (pairs per block)", "keys subdivided", "blocks left out"],
        ["postcode_birth_year", "4,000", "300", "28", "51", "2"],
    ]


def test_report_without_too_common_keys_has_no_blocking_table(built: tuple[ReportResult, str, Path]) -> None:
    _, html, _ = built
    assert "blocking" not in parse(html).tables


def test_report_has_no_person_data_and_escapes(built: tuple[ReportResult, str, Path]) -> None:
    _, html, _ = built
    for secret in SECRET_NAMES:
        assert secret not in html
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;alert(&#34;route&#34;)&lt;/script&gt;" in html
    assert EVIL_FAILURE.replace("<", "&lt;").replace(">", "&gt;") in html


def test_metrics_recorded_in_state(built: tuple[ReportResult, str, Path]) -> None:
    result, _, tmp_path = built
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    # a re-run of the same night replaces its row
    build_report(result.report.parent, tmp_path / "config", url, TONIGHT)
    engine = open_state(url)
    with Session(engine) as s:
        rows = s.scalars(select(ReportNightlyMetrics)).all()
    engine.dispose()
    assert [r.extract_date for r in rows] == [TONIGHT]
    row = rows[0]
    assert (row.rows_read, row.records, row.persons, row.links, row.review_pairs, row.findings) == (47, 10, 6, 5, 2, 4)
    assert row.link_rate == pytest.approx(0.7)
    assert row.findings_by_rule["significant_adult"] == 1


def test_trends_use_the_state_table(tmp_path: Path) -> None:
    night = make_night(tmp_path)
    config = make_config(tmp_path)
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    build_report(night.parent / LAST_NIGHT.isoformat(), config, url, LAST_NIGHT)
    result = build_report(night, config, url, TONIGHT)
    assert result.trend_nights == 2
    html = result.report.read_text(encoding="utf-8")
    assert html.count("<svg") >= 5  # histogram, cluster sizes, 4 trend charts minus none missing
    assert "Trends over the last 2 nights" in html


def test_empty_night_says_not_available(tmp_path: Path) -> None:
    night = tmp_path / "out" / TONIGHT.isoformat()
    result = build_report(night, tmp_path / "no-config", f"sqlite:///{tmp_path / 's.sqlite'}", TONIGHT)
    html = result.report.read_text(encoding="utf-8")
    assert result.records == 0 and result.review_file is None
    assert {"data quality", "linkage records", "linkage pairs", "linkage model", "findings"} <= set(result.unavailable)
    assert html.count("Not available tonight") >= 4
    assert not any("(error)" in u for u in result.unavailable)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
def test_report_renders_in_headless_chromium(built: tuple[ReportResult, str, Path]) -> None:
    from PIL import Image

    result, html, tmp_path = built
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    png = tmp_path / "report.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chrome'}",
         f"--screenshot={png}", "--window-size=1200,2000", result.report.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert png.is_file() and png.stat().st_size > 0
    with Image.open(png) as img:
        small = img.convert("RGB").resize((120, 200))
        colours = {small.getpixel((x, y)) for x in range(0, 120, 2) for y in range(0, 200, 2)}
    assert len(colours) > 20, "screenshot looks blank"
    assert "<svg" in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//|@import""", html, re.I)
    assert "<script" not in html.lower() and "<link" not in html.lower()


def test_tolerates_other_file_formats(tmp_path: Path) -> None:
    import json

    import polars as pl

    night = make_night(tmp_path)
    config = make_config(tmp_path)
    # pairs without decision, guard or field weights; findings only as CSV; a list-style model file
    pairs = night / "linkage" / "pairs.parquet"
    pl.read_parquet(pairs).select("source_l", "record_id_l", "source_r", "record_id_r", "weight").write_parquet(pairs)
    findings = pl.read_parquet(night / "findings.parquet")
    (night / "findings.parquet").unlink()
    findings.select("finding_id", "rule", "child_person_id", "adult_person_id").write_csv(night / "findings.csv")
    (config / "linkage_model.json").write_text(json.dumps({
        "thresholds": {"link": 0.9, "review": 0.4},
        "comparisons": [{"name": "dob", "levels": [{"label": "different", "m": 0.1, "u": 0.9},
                                                   {"label": "exact", "m": 0.9, "u": 0.01}]}],
    }))
    result = build_report(night, config, f"sqlite:///{tmp_path / 's.sqlite'}", TONIGHT)
    assert not any("(error)" in u for u in result.unavailable), result.unavailable
    doc = parse(result.report.read_text(encoding="utf-8"))
    assert doc.metrics["findings"] == "4" and doc.metrics["links"] == "0"
    assert doc.tables["model"][2] == ["", "exact", "0.9000", "0.0100", "6.49"]
    assert result.review_file is not None and result.review_pairs == 0
