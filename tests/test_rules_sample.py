"""The rules reproduce the sample drop's truth/findings.csv exactly, given truth-derived linkage."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from alerts.rules import detect_night
from alerts.rules.registry import RULE_NAMES
from evaluation.scoring import score_run
from evaluation.truth_linkage import write_truth_linkage
from ground.sources import load_sources
from landing.ingest import ingest_drop
from tests.helpers.sample import CONFIG_DIR, SAMPLE_DATE, SAMPLE_LANDING, SAMPLE_TRUTH

FORBIDDEN = ("mental health", "substance", "drug", "alcohol", "turning point")


@pytest.fixture(scope="module")
def sample_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    night = tmp_path_factory.mktemp("out") / SAMPLE_DATE.isoformat()
    ingest_drop(SAMPLE_LANDING, SAMPLE_DATE, load_sources(CONFIG_DIR / "sources.yaml"), night)
    write_truth_linkage(SAMPLE_TRUTH, night)
    state = f"sqlite:///{night.parent / 'state.sqlite'}"
    detect_night(night, CONFIG_DIR, state, SAMPLE_DATE)
    return night


def test_sample_reproduces_truth_exactly(sample_night: Path) -> None:
    got = (
        pl.read_csv(sample_night / "findings.csv", infer_schema=False)
        .select("rule", pl.col("child_person_id").fill_null(""), pl.col("adult_person_id").fill_null(""))
        .sort(pl.all())
    )
    truth = (
        pl.read_csv(SAMPLE_TRUTH / "findings.csv", infer_schema=False)
        .select(
            "rule",
            pl.col("child_true_person_id").fill_null("").alias("child_person_id"),
            pl.col("adult_true_person_id").fill_null("").alias("adult_person_id"),
        )
        .sort(pl.all())
    )
    assert got.to_dicts() == truth.to_dicts()


def test_sample_contract_columns_and_dates(sample_night: Path) -> None:
    frame = pl.read_csv(sample_night / "findings.csv", infer_schema=False)
    assert frame.columns == ["finding_id", "rule", "child_person_id", "adult_person_id", "first_seen", "summary"]
    assert frame.get_column("first_seen").unique().to_list() == [SAMPLE_DATE.isoformat()]
    assert frame.get_column("finding_id").str.contains(r"^F[0-9a-f]{12}$").all()
    assert frame.get_column("finding_id").n_unique() == frame.height


def test_sample_summaries_name_no_adult_service(sample_night: Path) -> None:
    rich = pl.read_parquet(sample_night / "findings.parquet")
    for summary in rich.get_column("summary").to_list():
        lowered = summary.lower()
        assert not any(word in lowered for word in FORBIDDEN), summary
    assert set(rich.get_column("status").to_list()) == {"new"}
    assert rich.get_column("routes").list.len().min() >= 2  # type: ignore[operator]


def test_sample_scores_perfectly(sample_night: Path) -> None:
    scores = score_run(SAMPLE_TRUTH, sample_night)
    assert set(scores["rules"]) == set(RULE_NAMES)
    for rule in RULE_NAMES:
        assert scores["rules"][rule]["precision"] == 1.0
        assert scores["rules"][rule]["recall"] == 1.0
    assert scores["linkage"]["precision"] == 1.0
    assert scores["linkage"]["recall"] == 1.0
