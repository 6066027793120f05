"""link_night on the sample drop: outputs per the contract, pairwise P/R against truth, stable ids."""

from __future__ import annotations

import datetime as dt
from itertools import combinations
from pathlib import Path

import polars as pl
import pytest

from ground.sources import SourcesConfig
from landing.ingest import ingest_drop
from linkage import link_night

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "sample"
DATE = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory, sources_config: SourcesConfig) -> tuple[Path, str, object]:
    out = tmp_path_factory.mktemp("linkage_sample")
    night = out / DATE.isoformat()
    ingest_drop(SAMPLE, DATE, sources_config, night)
    state = f"sqlite:///{out / 'state.sqlite'}"
    # as a new deployment: the first night fits its own model
    result = link_night(night, ROOT / "config" / "linkage_model.json", state, DATE, ROOT / "config",
                        models_dir=out / "models")
    return night, state, result


def _pairs(df: pl.DataFrame, col: str) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for members in df.group_by(col).agg(pl.col("key"))["key"].to_list():
        out.update(combinations(sorted(members), 2))
    return out


def test_sample_pairwise_precision_recall(linked: tuple[Path, str, object]) -> None:
    night, _, _ = linked
    links = pl.read_csv(night / "person_links.csv", schema_overrides={"record_id": pl.Utf8})
    truth = pl.read_csv(SAMPLE / "truth" / "persons.csv", schema_overrides={"record_id": pl.Utf8})
    assert links.columns == ["source", "record_id", "person_id"]
    assert links.height == truth.height
    j = truth.join(links, on=["source", "record_id"]).with_columns(
        (pl.col("source") + "/" + pl.col("record_id")).alias("key")
    )
    assert j.height == truth.height
    pred, true = _pairs(j, "person_id"), _pairs(j, "true_person_id")
    tp = len(pred & true)
    assert tp / len(pred) >= 0.99
    assert tp / len(true) >= 0.99


def test_sample_output_files(linked: tuple[Path, str, object]) -> None:
    night, _, result = linked
    rec = pl.read_parquet(night / "linkage" / "records.parquet")
    assert rec.columns == ["source", "record_id", "person_id", "cluster_size", "link_confidence"]
    assert rec["link_confidence"].is_between(0.0, 1.0).all()
    pairs = pl.read_parquet(night / "linkage" / "pairs.parquet")
    assert pairs.columns[:7] == ["source_l", "record_id_l", "source_r", "record_id_r", "weight",
                                 "match_probability", "decision"]
    assert set(pairs["decision"].unique()) <= {"link", "review", "guarded"}
    assert "guard" in pairs.columns and any(c.startswith("w_") for c in pairs.columns)
    men = pl.read_parquet(night / "linkage" / "mentions.parquet")
    assert {"owner_person_id", "mentioned_person_id", "mention_confidence"} <= set(men.columns)
    assert men["mention_confidence"].is_between(0.0, 1.0).all()
    assert result.records == rec.height
    assert result.persons == rec["person_id"].n_unique()


def test_sample_ids_stable_on_rerun(linked: tuple[Path, str, object]) -> None:
    night, state, _ = linked
    before = pl.read_csv(night / "person_links.csv", schema_overrides={"record_id": pl.Utf8})
    result = link_night(night, ROOT / "config" / "linkage_model.json", state, DATE, ROOT / "config",
                        models_dir=night.parent / "models")
    assert result.model["origin"] == "deployment"
    after = pl.read_csv(night / "person_links.csv", schema_overrides={"record_id": pl.Utf8})
    assert before.equals(after)
    assert (result.new_persons, result.merges, result.splits) == (0, 0, 0)


def test_link_night_inline_without_mentions_file(tmp_path: Path) -> None:
    night = tmp_path / DATE.isoformat()
    (night / "landing").mkdir(parents=True)
    people = pl.DataFrame(
        {
            "source": ["hv", "gp", "gp", "dental"],
            "record_id": ["1", "10", "11", "P5"],
            "nhs_number": ["9434765919", "9434765919", None, None],
            "nhs_status": ["01", None, None, None],
            "forename": ["Robert", "Bob", "Ava", "Robert"],
            "middle_names": [None, None, None, None],
            "surname": ["Smith", "Smith", "Smith", "Smith"],
            "known_as": [None] * 4,
            "dob": [dt.date(2020, 3, 4), dt.date(2020, 3, 4), dt.date(2020, 3, 4), dt.date(2020, 4, 3)],
            "sex": ["M", "M", "F", None],
            "address_line1": ["1 Oak Road"] * 4,
            "postcode": ["CH1 4BJ"] * 4,
        }
    )
    people.write_parquet(night / "landing" / "people.parquet")
    result = link_night(night, ROOT / "config" / "linkage_model.json", f"sqlite:///{tmp_path / 's.sqlite'}",
                        DATE, ROOT / "config")
    links = pl.read_csv(night / "person_links.csv", schema_overrides={"record_id": pl.Utf8})
    pid = dict(zip(links["source"] + "/" + links["record_id"], links["person_id"], strict=True))
    # Robert = Bob (same NHS number) = dental Robert (day and month swapped); Ava, the twin, apart
    assert pid["hv/1"] == pid["gp/10"] == pid["dental/P5"]
    assert pid["gp/11"] != pid["hv/1"]
    assert (result.records, result.persons, result.mentions) == (4, 2, 0)
    assert result.guard_interventions.get("twins", 0) == 0 or pid["gp/11"] != pid["hv/1"]
    assert pl.read_parquet(night / "linkage" / "mentions.parquet").height == 0
