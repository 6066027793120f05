"""The clerical review loop: export, mark, import, overrides, supersede; CSV-injection and HTML escaping."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from ground.safe_csv import csv_cell, csv_uncell
from report import build_report, import_review, latest_decisions, review_overrides
from report.review import normalise_decision, pair_key
from tests.helpers.sample import read_review_csv, write_review_csv
from tests.test_report import parse
from tests.test_report_fixtures import EVIL_FORENAME, EVIL_ROUTE, TONIGHT, make_config, make_night


def _mark(path: Path, decisions: dict[tuple[str, str], str], out: Path) -> Path:
    rows = read_review_csv(path)
    for row in rows:
        row["decision"] = decisions.get((row["record_id_l"], row["record_id_r"]), "")
    write_review_csv(out, rows)
    return out


def test_review_round_trip(tmp_path: Path, state_url: str) -> None:
    night = make_night(tmp_path)
    config = make_config(tmp_path)
    result = build_report(night, config, state_url, TONIGHT)
    assert result.review_file == night / "review" / "review_pairs.csv"
    rows = read_review_csv(result.review_file)
    assert len(rows) == 2
    assert {(r["source_l"], r["record_id_l"], r["source_r"], r["record_id_r"]) for r in rows} == {
        ("gp", "204", "gp", "205"), ("hv", "102", "gp", "204")}
    first = rows[0]
    assert first["pair_key"] == pair_key("gp", "204", "gp", "205") == pair_key("gp", "205", "gp", "204")
    # side by side, with the per-field weights and an empty decision column
    assert {"forename_l", "forename_r", "dob_l", "dob_r", "w_forename", "w_dob", "decision"} <= set(first)
    assert all(r["decision"] == "" for r in rows)

    marked = _mark(result.review_file, {("204", "205"): "Match", ("102", "204"): "no match"}, tmp_path / "m1.csv")
    imported = import_review(marked, state_url, "Dr A. Reviewer")
    assert (imported.rows, imported.recorded, imported.superseded, imported.invalid) == (2, 2, 0, [])
    overrides = review_overrides(state_url)
    assert overrides.columns == ["source_l", "record_id_l", "source_r", "record_id_r", "decision"]
    assert sorted(overrides.rows()) == [("gp", "204", "gp", "205", "force_link"),
                                        ("hv", "102", "gp", "204", "force_split")]

    # the same file again changes nothing
    again = import_review(marked, state_url, "Dr A. Reviewer")
    assert (again.recorded, again.unchanged) == (0, 2)

    # a later decision supersedes: unsure withdraws the force_link, history is kept
    marked2 = _mark(result.review_file, {("204", "205"): "unsure"}, tmp_path / "m2.csv")
    second = import_review(marked2, state_url, "Dr B. Second")
    assert (second.recorded, second.superseded, second.blank) == (1, 1, 1)
    assert review_overrides(state_url).rows() == [("hv", "102", "gp", "204", "force_split")]
    latest = latest_decisions(state_url)
    assert latest.filter(pl.col("record_id_r") == "205")["history"].to_list() == [2]
    assert latest.filter(pl.col("record_id_r") == "205")["reviewer"].to_list() == ["Dr B. Second"]

    # the next report counts the decisions, the override honoured, and precision per weight band
    result2 = build_report(night, config, state_url, TONIGHT)
    assert (result2.decisions, result2.overrides, result2.overrides_applied) == (3, 1, 1)
    doc = parse(result2.report.read_text(encoding="utf-8"))
    assert doc.metrics["pairs_decided"] == "2" and doc.metrics["decisions_total"] == "3"
    assert doc.metrics["overrides_applied"] == "1"
    bands = doc.tables["review-bands"]
    assert bands[1][2:] == ["0", "1", "0.0%"]  # the no-match pair, weight 0.87 in band [0, 2)
    # the re-exported file shows the previous decisions, but does not pre-fill them
    rows2 = {r["record_id_r"]: r for r in read_review_csv(result2.review_file)}
    assert rows2["205"]["previous_decision"] == "unsure" and rows2["204"]["previous_decision"] == "no match"
    assert rows2["205"]["decision"] == ""


def test_override_column_in_pairs_counts_as_applied(tmp_path: Path) -> None:
    night = make_night(tmp_path)
    pairs = pl.read_parquet(night / "linkage" / "pairs.parquet")
    pairs.with_columns(pl.when(pl.col("record_id_l") == "102").then(pl.lit("force_split")).otherwise(None)
                       .alias("override")).write_parquet(night / "linkage" / "pairs.parquet")
    result = build_report(night, make_config(tmp_path), f"sqlite:///{tmp_path / 's.sqlite'}", TONIGHT)
    assert result.overrides_applied == 1


def test_import_rejects_tampered_and_unreadable_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    night = make_night(tmp_path)
    review = build_report(night, make_config(tmp_path), url, TONIGHT).review_file
    assert review is not None
    rows = read_review_csv(review)
    rows[0]["decision"] = "perhaps"
    rows[1]["decision"] = "match"
    rows[1]["record_id_r"] = "999"  # pair_key no longer matches
    write_review_csv(tmp_path / "bad.csv", rows)
    result = import_review(tmp_path / "bad.csv", url, "rev")
    assert result.recorded == 0 and len(result.invalid) == 2
    assert "line 2" in result.invalid[0] and "line 3" in result.invalid[1]
    assert review_overrides(url).height == 0
    with pytest.raises(ValueError):
        import_review(tmp_path / "bad.csv", url, "  ")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a review file"):
        import_review(tmp_path / "other.csv", url, "rev")


def test_csv_injection_escaped(tmp_path: Path) -> None:
    night = make_night(tmp_path)
    review = build_report(night, make_config(tmp_path), f"sqlite:///{tmp_path / 's.sqlite'}", TONIGHT).review_file
    assert review is not None
    with review.open(encoding="utf-8", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert "'" + EVIL_FORENAME in cells
    assert EVIL_FORENAME not in cells
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert any(c.startswith("'-") for c in cells)  # negative weights too
    for value in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]:
        assert csv_cell(value) == "'" + value
        assert csv_uncell(csv_cell(value)) == value
    assert csv_cell("O'Brien") == "O'Brien" and csv_uncell("'quoted") == "'quoted"
    assert csv_cell(None) == "" and csv_cell(-2.5) == "'-2.5"


def test_html_escape_of_malicious_values(tmp_path: Path) -> None:
    night = make_night(tmp_path)
    evil_id = '"><script>alert(1)</script>'
    records = pl.read_parquet(night / "linkage" / "pairs.parquet")
    records.with_columns(pl.when(pl.col("record_id_l") == "102").then(pl.lit(evil_id))
                         .otherwise(pl.col("record_id_l")).alias("record_id_l"),
                         pl.when(pl.col("guard").is_not_null()).then(pl.lit("<b>guard</b>"))
                         .otherwise(None).alias("guard")).write_parquet(night / "linkage" / "pairs.parquet")
    result = build_report(night, make_config(tmp_path), f"sqlite:///{tmp_path / 's.sqlite'}", TONIGHT)
    html = result.report.read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "<b>guard</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;guard&lt;/b&gt;" in html
    assert EVIL_ROUTE not in html


def test_normalise_decision() -> None:
    assert normalise_decision(" Match ") == "match"
    assert normalise_decision("No Match") == "no_match"
    assert normalise_decision("no_match") == "no_match"
    assert normalise_decision("UNSURE") == "unsure"
    assert normalise_decision("") == ""
    assert normalise_decision("maybe") is None
