"""Candidate pairs: several blocking passes as polars self-joins, deduplicated.

Every pass joins records agreeing on its key columns. How common a key is comes from tonight's data:
a key shared by more than the pass's cap (``max_block_size``) of records on either side is not joined
whole but subdivided by the pass's refinement keys, one after another (a common postcode by birth
year, then by surname), until each sub-block is under the cap; a sub-block still over it after the
last refinement key is skipped. A pass's pair budget holds at every level: the pairs accepted before a
subdivision are spent, and the sub-blocks are taken largest first until the rest fits what is left. Both are
counted per pass, so the pair count stays near-linear in the
number of records and the run says what blocking left out. Within a block the result is what
recordlinkage's ``Block`` indexer would produce pass by pass, unioned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import polars as pl

from linkage.config import LinkageConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlockingPass:
    """One blocking rule: left keys must equal right keys (the same columns unless ``right`` is set).

    ``refine`` lists the columns that subdivide a block over the cap, in order (the same column on both
    sides); ``max_block_size`` overrides the configuration's cap for this pass.
    """

    name: str
    keys: tuple[str, ...]
    right: tuple[str, ...] | None = None
    refine: tuple[str, ...] = ()
    max_block_size: int | None = None


#: Generic passes: any pair on which two of name, date of birth and address agree meets in at least one pass,
#: whichever field is missing, mistyped or replaced: a name through its phonetic key, nickname group or first
#: letters, in either field (swapped, or one name crossed into the other field); a date of birth with a slip
#: in the day or month through its year (with the postcode); an address through its street's first letters.
#: No pass depends on one field being present (tests/test_linkage_blocking.py).
DEFAULT_PASSES: tuple[BlockingPass, ...] = (
    BlockingPass("nhs", ("nhs",), refine=("dob_y",)),
    # name + date of birth (``name_*_any`` is met by either name in either field: one name swapped, mistyped
    # or replaced; ``names_*`` holds both names in either order)
    BlockingPass("dob_any_name_phonetic", ("dob_s", "name_ph_any"), refine=("pc_out", "street4")),
    BlockingPass("dob_any_name_start", ("dob_s", "name3_any"), refine=("pc_out", "street4")),
    BlockingPass("dob_forename", ("dob_s", "fn_key"), refine=("pc_out", "sn3")),
    BlockingPass("names_birth_year", ("fn_key", "sn_ph", "dob_y"), refine=("pc_out", "dob_m")),
    BlockingPass("names_birth_day_month", ("names_ph", "dob_dm"), refine=("pc_out", "dob_y")),
    BlockingPass("name_starts_birth_year", ("names3", "dob_y"), refine=("pc_out", "dob_m")),
    # name + address
    BlockingPass("postcode_forename", ("pc", "fn_key"), refine=("dob_y", "sn3")),
    BlockingPass("postcode_any_name", ("pc", "name_ph_any"), refine=("dob_y", "addr_num")),
    BlockingPass("names_outward", ("names_ph", "pc_out"), refine=("pc_sector", "dob_y")),
    BlockingPass("names_street", ("names_ph", "street4"), refine=("pc_out", "dob_y")),
    BlockingPass("name_starts_street", ("names3", "street4"), refine=("pc_out", "dob_y")),
    BlockingPass("name_starts_house", ("names3", "addr_num"), refine=("pc_out", "dob_y")),
    BlockingPass("forename_house", ("fn_key", "addr_num", "street4"), refine=("pc_out", "dob_y")),
    BlockingPass("surname_house", ("sn_ph", "addr_num", "street4"), refine=("pc_out", "dob_y")),
    BlockingPass("any_name_start_street", ("name3_any", "street4"), refine=("pc_out", "addr_num", "dob_y")),
    BlockingPass("any_name_phonetic_street", ("name_ph_any", "street4"), refine=("pc_out", "addr_num", "dob_y")),
    # date of birth + address
    BlockingPass("postcode_birth_year", ("pc", "dob_y"), refine=("dob_m", "sn3")),
    BlockingPass("dob_street", ("dob_s", "street4"), refine=("pc_out", "sn3")),
    BlockingPass("dob_house", ("dob_s", "addr_num"), refine=("pc_out", "sn3")),
)


@dataclass
class BlockingStats:
    """Counts per pass (no person data)."""

    pairs_by_pass: dict[str, int] = field(default_factory=dict)
    skipped_keys_by_pass: dict[str, int] = field(default_factory=dict)
    subdivided_keys_by_pass: dict[str, int] = field(default_factory=dict)
    cap_by_pass: dict[str, int] = field(default_factory=dict)
    block_pairs_cap_by_pass: dict[str, int] = field(default_factory=dict)
    total_pairs: int = 0
    pass_names: tuple[str, ...] = ()

    def by_pass(self) -> dict[str, dict[str, int]]:
        """Per pass: ``pairs``, its ``cap`` (records per key), ``block_pairs_cap`` (pairs per block from
        tonight's budget, 0 for none), keys too common ``subdivided`` by refinement keys, and (sub-)blocks
        still too common ``skipped``."""
        return {name: {"pairs": self.pairs_by_pass.get(name, 0), "cap": self.cap_by_pass.get(name, 0),
                       "block_pairs_cap": self.block_pairs_cap_by_pass.get(name, 0),
                       "subdivided_keys": self.subdivided_keys_by_pass.get(name, 0),
                       "skipped_keys": self.skipped_keys_by_pass.get(name, 0)} for name in self.pass_names}


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
    return tuple(BlockingPass(p.name, tuple(p.keys), tuple(p.right) if p.right else None, tuple(p.refine),
                              p.max_block_size) for p in raw)


def key_hash(cols: list[str]) -> pl.Expr:
    """One 64-bit hash of ``cols`` (as text, by position), null when any of them is missing: a join key.

    One integer column joins and groups far faster than several strings. Two different keys sharing a hash
    (about one chance in 10^8 a night) could only add a candidate pair, never lose one.

    Args:
        cols: the key columns, in order (``["fn_ph", "pc"]`` hashes like ``["sn_ph", "pc"]`` on equal values).
    """
    text = [pl.col(c).cast(pl.Utf8).alias(f"_k{i}") for i, c in enumerate(cols)]
    return pl.when(pl.all_horizontal([e.is_not_null() for e in text])).then(pl.struct(text).hash(seed=0))


def _keyed(records: pl.DataFrame, cols: list[str], required: int) -> pl.DataFrame:
    """``uid`` and one key per level: the pass's keys (``_h0``), then with each refinement key added
    (``_h1`` ...), null where a key of that level is missing. A list column (``name3_any``) gives a record one
    row per member, so two records meet when any member agrees."""
    distinct = list(dict.fromkeys(cols))
    lists = [c for c in distinct if isinstance(records.schema[c], pl.List)]
    frame = records.select("uid", *distinct)
    for col in lists:  # a list key is met through any member: one row per member (duplicate pairs go later)
        frame = frame.explode(col)
    levels = [key_hash(cols[: required + level]).alias(f"_h{level}") for level in range(len(cols) - required + 1)]
    return frame.select("uid", *levels).drop_nulls("_h0")


def _pair_threshold(sizes: pl.DataFrame, budget: float | None) -> int | None:
    """The smallest block, in pairs, that must be subdivided for the rest of the pass to fit ``budget``.

    Blocks sorted largest first: every block from the largest down to the last one whose pairs, with all
    smaller blocks', still exceed the budget. None when the pass fits (or no budget).
    """
    if budget is None or sizes.is_empty():
        return None
    p = sizes["_p"].sort(descending=True)
    over = p.filter(p.reverse().cum_sum().reverse() > budget)
    return int(over.min()) if over.len() else None  # type: ignore[arg-type]


def _pair_key(uid_l: pl.Expr, uid_r: pl.Expr) -> pl.Expr:
    """A pair of record ids (each below 2**32) as one unsigned 64-bit ``pair``: ``uid_l << 32 | uid_r``. It sorts
    as ``(uid_l, uid_r)`` do, and one integer key takes a third of the memory of a pair with its pass mask."""
    return ((uid_l.cast(pl.UInt64) * (1 << 32)) + uid_r.cast(pl.UInt64)).alias("pair")


def _one_pass(records: pl.DataFrame, bp: BlockingPass, cap: int,
              budget: float | None) -> tuple[pl.DataFrame, dict[str, int]]:
    """Pairs of one pass, subdividing too common keys by the refinement keys.

    A key is too common when more than ``cap`` records share it on either side, or when its block holds
    at least the pairs :func:`_pair_threshold` finds for the pass to fit what is left of ``budget``
    (tonight's data) after the blocks accepted at the levels before.

    Returns:
        ``(pairs, counts)``: unique pairs ``uid_l < uid_r`` as one ``pair`` key (:func:`_pair_key`);
        ``subdivided_keys`` (keys too common, split),
        ``skipped_keys`` ((sub-)blocks still too common after the last refinement key, left out) and
        ``block_pairs_cap`` (the pair threshold, 0 for none).
    """
    n = len(bp.keys)
    left = _keyed(records, [*bp.keys, *bp.refine], n)
    right = left if bp.right is None else _keyed(records, [*bp.right, *bp.refine], n)
    block_pairs = pl.col("_nl") * (pl.col("_nl") - 1) // 2 if bp.right is None else pl.col("_nl") * pl.col("_nr")
    parts: list[pl.DataFrame] = []
    counts = {"subdivided_keys": 0, "skipped_keys": 0, "block_pairs_cap": 0}
    spent = 0
    for level in range(len(bp.refine) + 1):
        key = f"_h{level}"
        if level:
            left = left.drop_nulls(key)
            right = left if bp.right is None else right.drop_nulls(key)
        sizes = left.group_by(key).agg(pl.len().alias("_nl"))
        sizes = (sizes.with_columns(pl.col("_nl").alias("_nr")) if bp.right is None
                 else sizes.join(right.group_by(key).agg(pl.len().alias("_nr")), on=key))
        sizes = sizes.with_columns(block_pairs.alias("_p"))
        # the budget holds after each subdivision too: what earlier levels accepted is spent
        threshold = _pair_threshold(sizes, None if budget is None else max(budget - spent, 0.0))
        if level == 0:
            counts["block_pairs_cap"] = threshold or 0
        over = (pl.col("_nl") > cap) | (pl.col("_nr") > cap)
        if threshold is not None:
            over = over | (pl.col("_p") >= threshold)
        accepted, big = sizes.filter(~over), sizes.filter(over).select(key)
        ok = accepted.select(key)
        spent += int(accepted["_p"].sum())
        l_ok = left.select("uid", key).join(ok, on=key, how="semi")
        r_ok = l_ok if bp.right is None else right.select("uid", key).join(ok, on=key, how="semi")
        parts.append(l_ok.join(r_ok, on=key, suffix="_r").filter(pl.col("uid") != pl.col("uid_r"))
                     .select(_pair_key(pl.min_horizontal("uid", "uid_r"), pl.max_horizontal("uid", "uid_r"))))
        if big.is_empty() or level == len(bp.refine):
            counts["skipped_keys"] = big.height
            break
        if level == 0:
            counts["subdivided_keys"] = big.height
        left = left.join(big, on=key, how="semi")
        right = left if bp.right is None else right.join(big, on=key, how="semi")
    return pl.concat(parts).unique(), counts


def candidate_pairs(
    records: pl.DataFrame,
    passes: tuple[BlockingPass, ...] = DEFAULT_PASSES,
    max_block_size: int = 200,
    dedupe_sources: frozenset[str] = frozenset(),
    max_pairs_per_record: float | None = None,
) -> tuple[pl.DataFrame, BlockingStats]:
    """All candidate pairs over the standardised records.

    Args:
        records: standardised records (``uid``, ``source`` and the key columns).
        passes: the blocking passes.
        max_block_size: the cap: a key shared by more records than this (on either side) is subdivided by
            the pass's refinement keys, and a sub-block still over it is skipped (a pass may set its own).
        dedupe_sources: sources within which two records may be the same person (kept for the
            signature; pairs within every source are candidates, flagged ``same_source``).
        max_pairs_per_record: a pass's pair budget, per record tonight (at least the pairs of one block at
            the cap): when a pass would exceed it, its largest blocks are subdivided (or skipped) until the
            rest fits. None: no budget.

    Returns:
        ``(pairs, stats)``: pairs with ``uid_l < uid_r`` (unique), ``passes`` (bit mask of the passes that
        found the pair) and ``same_source``; and per-pass counts (pairs, cap, subdivided and skipped keys).
    """
    if len(passes) > 62:
        raise ValueError("at most 62 blocking passes")
    if records.height and not 0 <= int(records["uid"].min()) <= int(records["uid"].max()) < 1 << 32:  # type: ignore[arg-type]
        raise ValueError("record ids (uid) must lie in 0 .. 2**32 - 1")
    stats = BlockingStats(pass_names=tuple(bp.name for bp in passes))
    frames = []
    for i, bp in enumerate(passes):
        if not set(bp.keys) | set(bp.right or ()) | set(bp.refine) <= set(records.columns):
            raise ValueError(f"blocking pass {bp.name!r} uses a key that is not a standardised column")
        cap = bp.max_block_size or max_block_size
        # the budget never bites below the pairs one block at the record cap holds (a small night is cheap)
        budget = None if max_pairs_per_record is None else max(max_pairs_per_record * records.height,
                                                               cap * (cap - 1) / 2)
        part, counts = _one_pass(records, bp, cap, budget)
        stats.pairs_by_pass[bp.name] = part.height
        stats.cap_by_pass[bp.name] = cap
        stats.block_pairs_cap_by_pass[bp.name] = counts["block_pairs_cap"]
        stats.subdivided_keys_by_pass[bp.name] = counts["subdivided_keys"]
        stats.skipped_keys_by_pass[bp.name] = counts["skipped_keys"]
        if counts["skipped_keys"]:
            log.info("blocking: pass %s left out %d blocks too common tonight", bp.name, counts["skipped_keys"])
        frames.append(part.with_columns(pl.lit(1 << i, dtype=pl.Int64).alias("passes")))
    empty = pl.DataFrame(schema={"pair": pl.UInt64, "passes": pl.Int64})
    keyed = pl.concat(frames).group_by("pair").agg(pl.col("passes").sum()) if frames else empty
    keyed = keyed.sort("pair")
    del frames
    # pairs within one source are kept: a likely duplicate inside a system goes to clerical review
    # (linked only for ``dedupe_sources``), never silently dropped
    src = records.select("uid", pl.col("source").rank("dense").alias("_s"))
    pairs = (
        keyed.select((pl.col("pair") // (1 << 32)).cast(pl.Int64).alias("uid_l"),
                     (pl.col("pair") % (1 << 32)).cast(pl.Int64).alias("uid_r"), "passes")
        .join(src.rename({"uid": "uid_l", "_s": "_sl"}), on="uid_l", how="left", maintain_order="left")
        .join(src.rename({"uid": "uid_r", "_s": "_sr"}), on="uid_r", how="left", maintain_order="left")
        .select("uid_l", "uid_r", "passes", (pl.col("_sl") == pl.col("_sr")).alias("same_source"))
    )
    stats.total_pairs = pairs.height
    log.info("blocking: %d candidate pairs", pairs.height)
    return pairs, stats
