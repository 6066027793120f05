"""Incremental nights: pairs of records unchanged since the night before keep their comparisons, and a night's
outputs are the same with or without them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from ground.layout import NightLayout
from ground.sources import SourcesConfig
from linkage import LinkResult, link_night
from linkage.prepare import load_config, standardise_block
from linkage.reuse import comparison_key, record_keys
from tests.helpers.nights import deployment_night, ingested_sample

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"
DATE = dt.date(2026, 11, 25)
MODEL = CONFIG / "linkage_model.json"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, sources_config: SourcesConfig) -> Path:
    return ingested_sample(tmp_path_factory.mktemp("reuse"), sources_config)


def _link(night: Path, cache: bool) -> LinkResult:
    output = night.parent
    return link_night(night, MODEL, f"sqlite:///{output / 'state.sqlite'}", DATE, CONFIG, models_dir=output / "models",
                      cache_dir=output / "linkage_cache" if cache else None)


def _outputs(night: Path) -> tuple[bytes, pl.DataFrame]:
    layout = NightLayout(night)
    return layout.person_links.read_bytes(), pl.read_parquet(layout.pairs)


def test_an_unchanged_night_reuses_every_comparison_and_gives_the_same_outputs(ingested: Path, tmp_path: Path) -> None:
    night = deployment_night(ingested, tmp_path)
    first = _link(night, cache=True)  # the deployment's first night: fitted, every pair compared, the cache kept
    assert (first.pairs_reused, first.pairs_compared) == (0, first.pairs_scored)
    stamp = json.loads((tmp_path / "linkage_cache" / "levels.json").read_text(encoding="utf-8"))
    assert stamp == {"comparison_key": comparison_key(CONFIG), "night": DATE.isoformat(), "pairs": stamp["pairs"]}
    assert 0 < stamp["pairs"] <= first.pairs_scored

    reused = _link(night, cache=True)
    assert (reused.pairs_reused, reused.pairs_compared) == (first.pairs_scored, 0)
    with_cache = _outputs(night)
    full = _link(night, cache=False)
    assert (full.pairs_reused, full.pairs_compared) == (0, first.pairs_scored)
    without_cache = _outputs(night)
    assert with_cache[0] == without_cache[0]
    assert with_cache[1].equals(without_cache[1])


def _pairs_touching(night: Path, source: str, record_id: str) -> int:
    """Tonight's candidate pairs with this record on one side, from blocking alone (no cache, no hashing)."""
    people = pl.read_parquet(NightLayout(night).people).with_columns(pl.col("record_id").cast(pl.Utf8))
    sc = standardise_block(people, load_config(CONFIG), CONFIG)
    uid = sc.records.filter((pl.col("source") == source) & (pl.col("record_id") == record_id))["uid"].item()
    return sc.pairs.filter((pl.col("uid_l") == uid) | (pl.col("uid_r") == uid)).height


def test_a_changed_record_is_compared_again_and_the_rest_reused(ingested: Path, tmp_path: Path) -> None:
    night = deployment_night(ingested, tmp_path)
    first = _link(night, cache=True)
    people_path = NightLayout(night).people
    people = pl.read_parquet(people_path)
    # a record with a recorded sex and candidate pairs: its sex is corrected tonight (blocking never keys on sex,
    # so tonight's candidate pairs are last night's; only this record's are compared again)
    before = pl.read_parquet(NightLayout(night).pairs)
    chosen = before.filter(pl.col("level_sex") == "same").row(0, named=True)
    source, record_id = chosen["source_l"], chosen["record_id_l"]
    people.with_columns(
        pl.when((pl.col("source") == source) & (pl.col("record_id").cast(pl.Utf8) == record_id))
        .then(pl.col("sex").replace({"M": "F", "F": "M"})).otherwise(pl.col("sex")).alias("sex")
    ).write_parquet(people_path)
    touching = _pairs_touching(night, source, record_id)
    assert touching >= 1

    changed = _link(night, cache=True)
    assert changed.pairs_scored == first.pairs_scored
    assert (changed.pairs_compared, changed.pairs_reused) == (touching, first.pairs_scored - touching)
    with_cache = _outputs(night)
    _link(night, cache=False)
    without_cache = _outputs(night)
    assert with_cache[0] == without_cache[0] and with_cache[1].equals(without_cache[1])
    key = ["source_l", "record_id_l", "source_r", "record_id_r"]
    mine = (pl.col("source_l") == source) & (pl.col("record_id_l") == record_id) | (
        pl.col("source_r") == source) & (pl.col("record_id_r") == record_id)
    sexes = before.filter(mine).select(*key, "level_sex").join(
        with_cache[1].filter(mine).select(*key, "level_sex"), on=key, suffix="_tonight")
    flipped = {"same": "different", "different": "same", "missing": "missing"}
    assert sexes.height >= 1
    assert sexes["level_sex_tonight"].to_list() == [flipped[v] for v in sexes["level_sex"].to_list()]


def test_the_cache_is_not_used_under_another_comparison_key(ingested: Path, tmp_path: Path) -> None:
    night = deployment_night(ingested, tmp_path)
    first = _link(night, cache=True)
    stamp_path = tmp_path / "linkage_cache" / "levels.json"
    stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    stamp_path.write_text(json.dumps({**stamp, "comparison_key": "an older comparison"}), encoding="utf-8")
    again = _link(night, cache=True)
    assert (again.pairs_reused, again.pairs_compared) == (0, first.pairs_scored)


def test_record_keys_follow_the_compared_columns_only() -> None:
    records = pl.DataFrame({"uid": [0, 1, 2, 3], "fn": ["ann", "ann", "anne", "ann"], "sn": ["lee"] * 4,
                            "source": ["hv", "gp", "hv", "hv"]})
    keys = record_keys(records)
    assert keys.columns == ["uid", "k1", "k2"]
    k = keys.select(pl.concat_str(pl.col("k1").cast(pl.Utf8), pl.col("k2").cast(pl.Utf8)))["k1"].to_list()
    assert k[0] == k[1] == k[3] != k[2]  # the source is not compared: records 0, 1 and 3 have one key
    assert keys["k1"].to_list() != keys["k2"].to_list()


def test_a_damaged_cache_costs_time_not_the_night(ingested: Path, tmp_path: Path) -> None:
    night = deployment_night(ingested, tmp_path)
    first = _link(night, cache=True)
    (tmp_path / "linkage_cache" / "levels.parquet").write_bytes(b"not parquet")
    again = _link(night, cache=True)
    assert (again.pairs_reused, again.pairs_compared) == (0, first.pairs_scored)
    assert json.loads((tmp_path / "linkage_cache" / "levels.json").read_text(encoding="utf-8"))["pairs"] > 0
