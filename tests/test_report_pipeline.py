"""The report on the real stages' outputs: two nights of a small synthetic county through ``run_night``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from report import build_report, import_review, review_overrides
from tests.helpers.sample import read_review_csv, write_review_csv
from tests.test_report import parse

FIRST = dt.date(2026, 11, 25)
SECOND = FIRST + dt.timedelta(days=1)


@pytest.mark.slow
def test_two_nights_through_the_pipeline(tmp_path: Path) -> None:
    from safelink.pipeline import Night, run_night
    from synth import generate_county

    county = tmp_path / "county"
    generate_county(county, FIRST, 60, 11, nights=2)
    output = tmp_path / "output"
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"

    first = Night(landing=county / "landing", output=output, extract_date=FIRST, state_url=url)
    summary = run_night(first)
    counts = summary.stages["report"]
    night_dir = first.night_dir
    html = (night_dir / "report.html").read_text(encoding="utf-8")
    doc = parse(html)
    links = pl.read_csv(night_dir / "person_links.csv", infer_schema=False)
    assert counts["records"] == links.height == int(doc.metrics["records"].replace(",", ""))
    assert counts["persons"] == links["person_id"].n_unique()
    assert counts["sources_missing"] == []
    people = pl.read_parquet(night_dir / "landing" / "people.parquet")
    for name in people["surname"].drop_nulls().unique().to_list()[:50]:
        assert f">{name}<" not in html  # no person data in the report
    assert "<svg" in html

    # the reviewer marks every review pair a match; the next night's report counts the decisions
    review = night_dir / "review" / "review_pairs.csv"
    rows = read_review_csv(review)
    assert rows, "the sample night has pairs for clerical review"
    for row in rows:
        row["decision"] = "match"
    marked = write_review_csv(tmp_path / "marked.csv", rows)
    assert import_review(marked, url, "reviewer").recorded == len(rows)
    assert review_overrides(url).height == len(rows)

    second = Night(landing=county / "landing", output=output, extract_date=SECOND, state_url=url)
    run_night(second)
    truth = county / "truth" / SECOND.isoformat()
    result = build_report(second.night_dir, second.config_dir, url, SECOND, truth_dir=truth)
    assert result.trend_nights == 2
    assert result.decisions == len(rows)
    assert result.precision is not None and result.precision > 0.9
    doc2 = parse(result.report.read_text(encoding="utf-8"))
    assert "merges" in doc2.metrics and "splits" in doc2.metrics  # stable-ID changes since last night
    assert len(doc2.tables["trend-table"]) == 3
