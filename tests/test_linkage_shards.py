"""The link stage split at its seams (issue #18): block_night writes shards, score_shard scores one, cluster_night
reads them all; the outputs are the same whatever the number of shards and processes."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ground.layout import NightLayout
from ground.sources import SourcesConfig
from linkage import block_night, cluster_night, score_shard
from linkage.config import LinkageConfig, Sharding
from linkage.shards import ShardPlan, read_scored, score_shards, shard_count, shard_of
from tests.helpers.nights import deployment_night, ingested_sample, safelink
from tests.helpers.sample import generated_drop

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"
DATE = dt.date(2026, 11, 25)
MODEL = CONFIG / "linkage_model.json"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, sources_config: SourcesConfig) -> Path:
    return ingested_sample(tmp_path_factory.mktemp("shards"), sources_config)


def _scored_in(night: Path, processes: int) -> tuple[ShardPlan, pl.DataFrame]:
    plan = block_night(night, MODEL, DATE, CONFIG, processes=processes)
    score_shards(night, plan, CONFIG, processes)
    scored, _ = read_scored(NightLayout(night), plan)
    return plan, scored


def test_shard_of_is_fixed_and_even() -> None:
    rng = np.random.default_rng(5)
    left = np.sort(rng.integers(0, 50_000, 200_000))
    right = left + rng.integers(1, 30, 200_000)  # neighbouring ids, as a household's records are
    shards = shard_of(left, right, 4)
    assert np.array_equal(shards, shard_of(left, right, 4))
    # a pair's shard depends on the pair alone, not on the others beside it
    assert np.array_equal(shard_of(left[::-1], right[::-1], 4), shards[::-1])
    counts = np.bincount(shards, minlength=4)
    assert counts.sum() == 200_000
    assert np.abs(counts / 200_000 - 0.25).max() < 0.01
    assert shard_of(np.array([0, 7]), np.array([1, 9]), 1).tolist() == [0, 0]


@pytest.mark.parametrize(("pairs", "per_shard", "processes", "cap", "expected"), [
    (0, 1000, 1, 256, 1),
    (1000, 1000, 1, 256, 1),
    (1001, 1000, 1, 256, 2),
    (10, 1000, 4, 256, 4),  # at least one shard per process
    (10_000, 10, 1, 256, 256),  # at most max_shards
])
def test_shard_count(pairs: int, per_shard: int, processes: int, cap: int, expected: int) -> None:
    config = LinkageConfig(sharding=Sharding(pairs_per_shard=per_shard, max_shards=cap))
    assert shard_count(pairs, config, processes) == expected


def test_three_processes_score_exactly_what_one_does(ingested: Path, tmp_path: Path) -> None:
    one_plan, one = _scored_in(deployment_night(ingested, tmp_path / "one"), 1)
    three_plan, three = _scored_in(deployment_night(ingested, tmp_path / "three"), 3)
    assert (one_plan.shards, three_plan.shards) == (1, 3)
    assert sum(three_plan.pairs_per_shard) == three_plan.pairs == one_plan.pairs == one.height > 0
    assert min(three_plan.pairs_per_shard) > 0
    assert three.equals(one)
    assert {"weight", "match_probability", "forename", "w_forename", "passes"} <= set(one.columns)


def test_shard_files_are_owner_only_and_hold_no_person_data_in_their_names(ingested: Path, tmp_path: Path) -> None:
    night = deployment_night(ingested, tmp_path)
    previous = os.umask(0o077)
    try:
        plan = block_night(night, MODEL, DATE, CONFIG, processes=2)
        score_shards(night, plan, CONFIG, 2)
    finally:
        os.umask(previous)
    layout = NightLayout(night)
    files = sorted(p for p in layout.shards.rglob("*") if p.is_file())
    assert {p.relative_to(layout.shards).as_posix() for p in files} == {
        "plan.json", "model.json", "records.parquet", "frequencies.parquet", "keys.parquet",
        "candidates/part-00000.parquet", "candidates/part-00001.parquet",
        "scored/part-00000.parquet", "scored/part-00001.parquet", "scored/part-00000.json", "scored/part-00001.json"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)  # the scoring processes' files too
    written = json.loads(layout.shard_plan.read_text(encoding="utf-8"))
    assert set(written) == {"token", "shards", "pairs", "pairs_per_shard", "n_records", "compared", "reused",
                            "comparison_key", "model", "blocking", "seconds", "format"}


def test_cluster_refuses_a_shard_not_scored_or_scored_for_an_earlier_blocking(ingested: Path, tmp_path: Path) -> None:
    night = deployment_night(ingested, tmp_path)
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    plan = block_night(night, MODEL, DATE, CONFIG, processes=2)
    score_shard(night, 0, CONFIG)
    with pytest.raises(FileNotFoundError, match="shard 1 of 2 was not scored"):
        cluster_night(night, state, DATE, CONFIG)
    score_shard(night, 1, CONFIG)
    stale = NightLayout(night).scored_counts(1).read_text(encoding="utf-8")
    block_night(night, MODEL, DATE, CONFIG, processes=2)  # the night blocked again: its shards start afresh
    assert not NightLayout(night).scored(0).exists()
    score_shard(night, 0, CONFIG)
    score_shard(night, 1, CONFIG)
    NightLayout(night).scored_counts(1).write_text(stale, encoding="utf-8")
    with pytest.raises(ValueError, match="earlier blocking of this night: score shard 1 again"):
        cluster_night(night, state, DATE, CONFIG)
    with pytest.raises(ValueError, match="shard 2 is not one of tonight's 2 shard"):
        score_shard(night, 2, CONFIG)
    assert plan.shards == 2


def test_cluster_night_removes_the_shards_person_data(ingested: Path, tmp_path: Path) -> None:
    night = deployment_night(ingested, tmp_path)
    plan = block_night(night, MODEL, DATE, CONFIG, processes=2)
    score_shards(night, plan, CONFIG, 1)  # two shards, one after another in this process
    result = cluster_night(night, f"sqlite:///{tmp_path / 'state.sqlite'}", DATE, CONFIG)
    assert result.shards == 2 and result.pairs_scored == plan.pairs
    layout = NightLayout(night)
    assert sorted(p.name for p in layout.shards.iterdir()) == ["model.json", "plan.json"]
    assert layout.person_links.is_file() and layout.pairs.is_file()


@pytest.mark.slow
def test_safelink_run_shards_4_equals_shards_1_byte_for_byte(tmp_path: Path) -> None:
    landing = generated_drop(tmp_path, DATE, 400, 18)
    out, other = tmp_path / "out", tmp_path / "other"
    night = NightLayout.of(out, DATE)
    run = ("run", "--landing", landing, "--date", DATE.isoformat(), "--output")
    safelink(*run, out, "--shards", "1")  # the deployment's first night fits its model
    first_pairs = pl.read_parquet(night.pairs)
    safelink(*run, other, "--shards", "4")  # another deployment's first night, fitted and scored in four
    assert pl.read_parquet(NightLayout.of(other, DATE).pairs).equals(first_pairs)

    safelink(*run, out, "--shards", "1")
    one = {p.name: p.read_bytes() for p in (night.person_links, night.findings_csv)}
    one_pairs = pl.read_parquet(night.pairs)
    one_link = json.loads(night.run_summary.read_text(encoding="utf-8"))["stages"]["link"]
    safelink(*run, out, "--shards", "4")
    four = {p.name: p.read_bytes() for p in (night.person_links, night.findings_csv)}

    assert four == one
    assert pl.read_parquet(night.pairs).equals(one_pairs)
    assert one["person_links.csv"].count(b"\n") > 1000 and one["findings.csv"].count(b"\n") > 1
    four_link = json.loads(night.run_summary.read_text(encoding="utf-8"))["stages"]["link"]
    assert (one_link["shards"], four_link["shards"]) == (1, 4)
    assert four_link["pairs_scored"] == one_link["pairs_scored"] > one_pairs.height > 0
