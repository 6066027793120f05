"""Candidate pairs: several blocking passes as polars self-joins, deduplicated.

Every pass joins records agreeing on its key columns; keys shared by more than ``max_block_size``
records are skipped (and counted) so the pair count stays near-linear in the number of records.
The result is what recordlinkage's ``Block`` indexer would produce pass by pass, unioned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import polars as pl

from linkage.config import LinkageConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlockingPass:
    """One blocking rule: left keys must equal right keys (the same columns unless ``right`` is set)."""

    name: str
    keys: tuple[str, ...]
    right: tuple[str, ...] | None = None


#: Generic passes: any pair on which two of name, date of birth and address agree (a name through its
#: phonetic key or nickname group, so through typos) meets in at least one pass, whichever field is
#: missing or mistyped. No pass depends on one field being present.
DEFAULT_PASSES: tuple[BlockingPass, ...] = (
    BlockingPass("nhs", ("nhs",)),
    # name + date of birth
    BlockingPass("dob_surname_phonetic", ("dob_s", "sn_ph")),
    BlockingPass("dob_forename", ("dob_s", "fn_key")),
    BlockingPass("dob_forename_phonetic", ("dob_s", "fn_ph")),
    BlockingPass("names_birth_year", ("fn_key", "sn_ph", "dob_y")),
    BlockingPass("names_birth_day_month", ("fn_ph", "sn_ph", "dob_dm")),
    BlockingPass("name_starts_birth_year", ("fn3", "sn3", "dob_y")),
    # name + address
    BlockingPass("postcode_forename", ("pc", "fn_key")),
    BlockingPass("names_outward", ("fn_ph", "sn_ph", "pc_out")),
    BlockingPass("names_street", ("fn_ph", "sn_ph", "street4")),
    BlockingPass("name_starts_street", ("fn3", "sn3", "street4")),
    BlockingPass("name_starts_house", ("fn3", "sn3", "addr_num")),
    BlockingPass("forename_house", ("fn_key", "addr_num", "street4")),
    BlockingPass("surname_house", ("sn_ph", "addr_num", "street4")),
    # date of birth + address
    BlockingPass("postcode_birth_year", ("pc", "dob_y")),
    BlockingPass("dob_street", ("dob_s", "street4")),
    BlockingPass("dob_house", ("dob_s", "addr_num")),
    # names swapped
    BlockingPass("swapped_names_dob", ("fn_ph", "sn_ph", "dob_s"), ("sn_ph", "fn_ph", "dob_s")),
    BlockingPass("swapped_forename_postcode", ("fn_ph", "pc"), ("sn_ph", "pc")),
    BlockingPass("swapped_surname_dob", ("sn_ph", "dob_s"), ("fn_ph", "dob_s")),
    BlockingPass("swapped_names_house", ("fn_ph", "addr_num", "street4"), ("sn_ph", "addr_num", "street4")),
)


@dataclass
class BlockingStats:
    """Counts per pass (no person data)."""

    pairs_by_pass: dict[str, int] = field(default_factory=dict)
    skipped_keys_by_pass: dict[str, int] = field(default_factory=dict)
    total_pairs: int = 0
    pass_names: tuple[str, ...] = ()


def pass_coverage(pairs: pl.DataFrame, pass_names: tuple[str, ...]) -> dict[str, dict[str, float | int]]:
    """How much each pass contributes to a set of pairs (e.g. tonight's links).

    Args:
        pairs: pairs with a ``passes`` bit mask (bit i: found by pass i).
        pass_names: the passes, in bit order.

    Returns:
        Per pass: ``found`` (pairs it found), ``alone`` (pairs no other pass found) and ``share_alone``.
    """
    total = max(pairs.height, 1)
    out: dict[str, dict[str, float | int]] = {}
    for i, name in enumerate(pass_names):
        bit = 1 << i
        found = int((pairs["passes"] & bit != 0).sum()) if pairs.height else 0
        alone = int((pairs["passes"] == bit).sum()) if pairs.height else 0
        out[name] = {"found": found, "alone": alone, "share_alone": round(alone / total, 4)}
    return out


def passes_from_config(config: LinkageConfig) -> tuple[BlockingPass, ...]:
    """Blocking passes from ``linkage.yaml`` (``blocking.passes``), else the defaults.

    Args:
        config: the linkage configuration.
    """
    raw = config.blocking.passes
    if not raw:
        return DEFAULT_PASSES
    return tuple(BlockingPass(p.name, tuple(p.keys), tuple(p.right) if p.right else None) for p in raw)


def _one_pass(records: pl.LazyFrame, bp: BlockingPass, max_block: int) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    left_keys = list(bp.keys)
    right_keys = list(bp.right or bp.keys)
    lk = [f"_k{i}" for i in range(len(left_keys))]
    left = records.select("uid", *[pl.col(c).cast(pl.Utf8).alias(k) for c, k in zip(left_keys, lk, strict=True)])
    left = left.drop_nulls(lk)
    right = records.select(
        pl.col("uid"), *[pl.col(c).cast(pl.Utf8).alias(k) for c, k in zip(right_keys, lk, strict=True)]
    ).drop_nulls(lk)
    sizes_l = left.group_by(lk).agg(pl.len().alias("_nl"))
    sizes_r = right.group_by(lk).agg(pl.len().alias("_nr"))
    sizes = sizes_l.join(sizes_r, on=lk, how="inner")
    big = sizes.filter((pl.col("_nl") > max_block) | (pl.col("_nr") > max_block))
    ok = sizes.filter((pl.col("_nl") <= max_block) & (pl.col("_nr") <= max_block)).select(lk)
    left = left.join(ok, on=lk, how="semi")
    right = right.join(ok, on=lk, how="semi")
    joined = left.join(right, on=lk, how="inner", suffix="_r").select(
        pl.min_horizontal("uid", "uid_r").alias("uid_l"), pl.max_horizontal("uid", "uid_r").alias("uid_r")
    )
    joined = joined.filter(pl.col("uid_l") != pl.col("uid_r"))
    return joined, big.select(pl.len().alias("n"))


def candidate_pairs(
    records: pl.DataFrame,
    passes: tuple[BlockingPass, ...] = DEFAULT_PASSES,
    max_block_size: int = 200,
    dedupe_sources: frozenset[str] = frozenset(),
) -> tuple[pl.DataFrame, BlockingStats]:
    """All candidate pairs over the standardised records.

    Args:
        records: standardised records (``uid``, ``source`` and the key columns).
        passes: the blocking passes.
        max_block_size: keys shared by more records than this are skipped in that pass.
        dedupe_sources: sources within which two records may be the same person (kept for the
            signature; pairs within every source are candidates, flagged ``same_source``).

    Returns:
        ``(pairs, stats)``: pairs with ``uid_l < uid_r`` (unique), ``passes`` (bit mask of the passes that
        found the pair) and ``same_source``; and per-pass counts.
    """
    if len(passes) > 62:
        raise ValueError("at most 62 blocking passes")
    stats = BlockingStats(pass_names=tuple(bp.name for bp in passes))
    lf = records.lazy()
    frames = []
    for i, bp in enumerate(passes):
        if not set(bp.keys) | set(bp.right or ()) <= set(records.columns):
            raise ValueError(f"blocking pass {bp.name!r} uses a key that is not a standardised column")
        joined, big = _one_pass(lf, bp, max_block_size)
        part = joined.unique().collect()
        stats.pairs_by_pass[bp.name] = part.height
        stats.skipped_keys_by_pass[bp.name] = int(big.collect()["n"][0])
        frames.append(part.with_columns(pl.lit(1 << i, dtype=pl.Int64).alias("passes")))
    empty = pl.DataFrame(schema={"uid_l": pl.Int64, "uid_r": pl.Int64, "passes": pl.Int64})
    pairs = (pl.concat(frames).group_by("uid_l", "uid_r").agg(pl.col("passes").sum())
             if frames else empty)
    src = records.select("uid", "source")
    # pairs within one source are kept: a likely duplicate inside a system goes to clerical review
    # (linked only for ``dedupe_sources``), never silently dropped
    pairs = (
        pairs.join(src.rename({"uid": "uid_l", "source": "_sl"}), on="uid_l")
        .join(src.rename({"uid": "uid_r", "source": "_sr"}), on="uid_r")
        .select("uid_l", "uid_r", "passes", (pl.col("_sl") == pl.col("_sr")).alias("same_source"))
        .sort("uid_l", "uid_r")
    )
    stats.total_pairs = pairs.height
    log.info("blocking: %d candidate pairs", pairs.height)
    return pairs, stats
