"""Tonight's records made ready to score: standardised, blocked and compared."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from linkage.blocking import BlockingStats, candidate_pairs, passes_from_config
from linkage.compare import compare_pairs
from linkage.config import LinkageConfig, load_linkage_config
from linkage.frames import levels_to_polars, to_recordlinkage
from linkage.standardise import nickname_pairs, standardise_people


def load_config(config_dir: Path) -> LinkageConfig:
    """Read and validate ``linkage.yaml`` from the configuration folder (defaults if absent).

    Args:
        config_dir: the configuration folder.
    """
    return load_linkage_config(config_dir)


def nicknames_path(config_dir: Path) -> Path:
    return Path(config_dir) / "nicknames.yaml"


@dataclass
class Scored:
    """Intermediate results of standardise → block → compare → score."""

    records: pl.DataFrame
    pairs: pl.DataFrame
    blocking: BlockingStats
    seconds: dict[str, float]


def standardise_block(people: pl.DataFrame, config: LinkageConfig, config_dir: Path) -> Scored:
    """Standardise the people table and make candidate pairs (not yet compared).

    Args:
        people: canonical people table.
        config: the linkage configuration.
        config_dir: configuration folder (for the alias table).
    """
    secs: dict[str, float] = {}
    t = time.perf_counter()
    std = standardise_people(
        people,
        nicknames_path(config_dir),
        tuple(config.guards.nhs_verified_statuses),
        tuple(config.guards.nhs_verified_without_status),
    )
    secs["standardise"] = time.perf_counter() - t
    t = time.perf_counter()
    pairs, bstats = candidate_pairs(
        std,
        passes_from_config(config),
        max_block_size=config.blocking.max_block_size,
        dedupe_sources=frozenset(config.dedupe_within_sources),
        max_pairs_per_record=config.blocking.max_pairs_per_record,
    )
    secs["block"] = time.perf_counter() - t
    return Scored(records=std, pairs=pairs, blocking=bstats, seconds=secs)


def compare_levels(records: pl.DataFrame, pairs: pl.DataFrame, config_dir: Path) -> pl.DataFrame:
    """The candidate pairs with one agreement-level column per comparison.

    Args:
        records: standardised records (at least those the pairs name).
        pairs: candidate pairs (``uid_l``, ``uid_r`` and any further columns, kept in order).
        config_dir: configuration folder (for the alias table).
    """
    pdf, idx = to_recordlinkage(records, pairs)
    levels = levels_to_polars(compare_pairs(idx, pdf, nickname_pairs(str(nicknames_path(config_dir)))))
    return pairs.join(levels, on=["uid_l", "uid_r"], how="left", maintain_order="left")


def standardise_block_compare(people: pl.DataFrame, config: LinkageConfig, config_dir: Path) -> Scored:
    """Standardise the people table, make candidate pairs and compute comparison levels.

    Args:
        people: canonical people table.
        config: the linkage configuration.
        config_dir: configuration folder (for the alias table).
    """
    sc = standardise_block(people, config, config_dir)
    t = time.perf_counter()
    sc.pairs = compare_levels(sc.records, sc.pairs, config_dir)
    sc.seconds["compare"] = time.perf_counter() - t
    return sc
