"""Tonight's records made ready to score: standardised, blocked and compared."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from linkage.blocking import BlockingStats, candidate_pairs, passes_from_config
from linkage.compare import compare_pairs
from linkage.config import LinkageConfig, load_linkage_config
from linkage.frames import COMPARE_COLUMNS, levels_to_polars, to_recordlinkage
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


#: Below this many pairs a second process costs more (starting it, sending it the records) than it saves.
MIN_PAIRS_PER_PROCESS = 100_000


def _named(records: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """The records the pairs name, with the columns comparing reads."""
    uids = pl.concat([pairs["uid_l"], pairs["uid_r"]]).unique()
    cols = ["uid", *(c for c in COMPARE_COLUMNS if c in records.columns)]
    return records.select(cols).filter(pl.col("uid").is_in(uids.implode()))


def compare_levels_in_processes(records: pl.DataFrame, pairs: pl.DataFrame, config_dir: Path,
                                processes: int) -> pl.DataFrame:
    """:func:`compare_levels` with the pairs cut into consecutive parts compared in up to ``processes`` local
    processes (:func:`ground.processes.run_in_processes`); the same frame, in the same order, as one process.

    A pair's levels depend on its two records alone, so any cut gives the same levels.

    Args:
        records: standardised records (at least those the pairs name).
        pairs: candidate pairs (``uid_l``, ``uid_r`` and any further columns, kept in order).
        config_dir: configuration folder (for the alias table).
        processes: the most local processes (one per :data:`MIN_PAIRS_PER_PROCESS` pairs at most).
    """
    parts = max(1, min(processes, pairs.height // MIN_PAIRS_PER_PROCESS))
    if parts <= 1:
        return compare_levels(records, pairs, config_dir)
    from ground.processes import run_in_processes

    size = -(-pairs.height // parts)
    chunks = [pairs.slice(k * size, size) for k in range(parts)]
    calls = [(compare_levels, (_named(records, chunk), chunk, Path(config_dir))) for chunk in chunks]
    return pl.concat(run_in_processes(calls, parts), how="vertical")


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
