"""Resolve mentions (related people, named children, dependants) to linked persons.

A mention is compared with people records by the same comparison features and Fellegi–Sunter model
as record pairs. Its address context is every address of the owner's person (postcode, first
address line); a forename-only mention borrows the owner's surname. The owner's own person is never a candidate.
The confidence is the posterior probability of the best person among all persons (Bayes over the
Fellegi–Sunter likelihood ratios, with a prior that the mentioned person has a record at all), so a
second plausible person lowers it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from linkage.blocking import BlockingPass
from linkage.compare import compare_pairs
from linkage.frames import levels_to_polars, to_recordlinkage
from linkage.model import FSModel, score
from linkage.standardise import standardise_people

MENTION_PASSES: tuple[BlockingPass, ...] = (
    BlockingPass("nhs", ("nhs",)),
    # name-only evidence cannot single out one person in a county: names need a place or a year
    BlockingPass("names_outward", ("fn_key", "sn_ph", "pc_out")),
    BlockingPass("names_birth_year", ("fn_key", "sn_ph", "dob_y")),
    BlockingPass("dob_surname", ("dob_s", "sn_ph")),
    BlockingPass("dob_forename", ("dob_s", "fn_key")),
    BlockingPass("postcode_forename", ("pc", "fn_key")),
    BlockingPass("swapped", ("fn_ph", "sn_ph", "pc_out"), ("sn_ph", "fn_ph", "pc_out")),
)
MAX_CANDIDATES_PER_KEY = 100


def _mention_people_frame(mentions: pl.DataFrame, people: pl.DataFrame, person_ids: pl.DataFrame) -> pl.DataFrame:
    """Mentions laid out as people rows, one per record of the owner's person (its addresses are
    the context), the owner's surname filling a blank surname. ``record_id`` is the mention index."""
    recs = people.with_row_index("uid").select(
        pl.col("uid").cast(pl.Int64),
        pl.col("source"),
        pl.col("record_id").cast(pl.Utf8),
        pl.col("surname"),
        pl.col("postcode"),
        pl.col("address_line1"),
    )
    recs = recs.join(person_ids, on="uid", how="left")
    owner = recs.select(
        "source",
        pl.col("record_id").alias("owner_record_id"),
        pl.col("surname").alias("_owner_surname"),
        pl.col("person_id").alias("_owner_pid"),
    ).unique(subset=["source", "owner_record_id"], keep="first")
    context = recs.select(
        pl.col("person_id").alias("_owner_pid"),
        pl.col("postcode").alias("_ctx_postcode"),
        pl.col("address_line1").alias("_ctx_address"),
    ).unique()
    m = mentions.with_row_index("_mid").with_columns(pl.col("owner_record_id").cast(pl.Utf8))
    m = m.join(owner, on=["source", "owner_record_id"], how="left")
    m = m.join(context, on="_owner_pid", how="left")
    sn_blank = pl.col("surname").is_null() | (pl.col("surname").str.strip_chars() == "")
    return m.select(
        pl.lit("~mention").alias("source"),
        pl.col("_mid").cast(pl.Utf8).alias("record_id"),
        pl.col("forename"),
        pl.when(sn_blank).then(pl.col("_owner_surname")).otherwise(pl.col("surname")).alias("surname"),
        pl.col("dob").cast(pl.Date),
        pl.col("nhs_number") if "nhs_number" in m.columns else pl.lit(None, dtype=pl.Utf8).alias("nhs_number"),
        pl.col("_ctx_postcode").alias("postcode"),
        pl.col("_ctx_address").alias("address_line1"),
    )


def _mention_candidates(mstd: pl.DataFrame, pstd: pl.DataFrame) -> pl.DataFrame:
    frames = []
    for bp in MENTION_PASSES:
        lk = list(bp.keys)
        rk = list(bp.right or bp.keys)
        keys = [f"_k{i}" for i in range(len(lk))]
        left = mstd.select("uid", *[pl.col(c).cast(pl.Utf8).alias(k) for c, k in zip(lk, keys, strict=True)])
        right = pstd.select("uid", *[pl.col(c).cast(pl.Utf8).alias(k) for c, k in zip(rk, keys, strict=True)])
        left, right = left.drop_nulls(keys), right.drop_nulls(keys)
        small = right.group_by(keys).agg(pl.len().alias("_n")).filter(pl.col("_n") <= MAX_CANDIDATES_PER_KEY)
        right = right.join(small.select(keys), on=keys, how="semi")
        frames.append(left.join(right, on=keys, suffix="_r").select(
            pl.col("uid").alias("uid_l"), pl.col("uid_r")))
    if not frames:
        return pl.DataFrame(schema={"uid_l": pl.Int64, "uid_r": pl.Int64})
    return pl.concat(frames).unique()


def resolve_mentions(
    mentions: pl.DataFrame,
    people: pl.DataFrame,
    people_std: pl.DataFrame,
    person_ids: pl.DataFrame,
    model: FSModel,
    nicknames_path: Path,
    nickname_pairs: frozenset[str],
    min_confidence: float = 0.5,
    prior_in_data: float = 0.9,
    min_margin: float = 4.0,
) -> pl.DataFrame:
    """Add ``owner_person_id``, ``mentioned_person_id`` and ``mention_confidence`` to the mentions.

    Args:
        mentions: the canonical mentions table.
        people: the canonical people table (for the owner's context).
        people_std: the standardised people (uid order = ``people`` row order).
        person_ids: ``uid`` -> ``person_id`` for every people record.
        model: the Fellegi–Sunter model.
        nicknames_path: path of the alias table.
        nickname_pairs: alias pairs for the forename comparison.
        min_confidence: below this the mention stays unresolved (null person).
        prior_in_data: prior probability that a mentioned person has a record at all.
        min_margin: the best person must also be this many times as probable as the second.

    Returns:
        The mentions table, in its row order, with the three columns added.
    """
    owner_pid = people_std.select("source", "record_id", "uid").join(person_ids, on="uid").select(
        "source", pl.col("record_id").alias("owner_record_id"), pl.col("person_id").alias("owner_person_id")
    )
    base = mentions.with_columns(pl.col("owner_record_id").cast(pl.Utf8)).join(
        owner_pid, on=["source", "owner_record_id"], how="left", maintain_order="left"
    )
    empty = base.with_columns(
        pl.lit(None, dtype=pl.Utf8).alias("mentioned_person_id"), pl.lit(0.0).alias("mention_confidence")
    )
    if mentions.height == 0 or people.height == 0:
        return empty
    mframe = _mention_people_frame(mentions, people, person_ids)
    offset = people_std.height
    mstd = standardise_people(mframe, nicknames_path).with_columns(pl.col("uid") + offset)
    mid_of = mstd.select(pl.col("uid").alias("muid"), pl.col("record_id").cast(pl.Int64).alias("mid"))
    cands = _mention_candidates(mstd, people_std)
    if cands.height == 0:
        return empty
    allrec = pl.concat([people_std, mstd], how="diagonal_relaxed")
    pdf, idx = to_recordlinkage(allrec, cands.select(pl.col("uid_r").alias("uid_l"), pl.col("uid_l").alias("uid_r")))
    levels = levels_to_polars(compare_pairs(idx, pdf, nickname_pairs))
    prior = model.prior_weight(people_std.height)
    scored = score(levels, people_std, model).select(
        pl.col("uid_l").alias("puid"), pl.col("uid_r").alias("muid"), (pl.col("weight") - prior).alias("ev")
    )
    scored = scored.join(mid_of, on="muid").join(person_ids.rename({"uid": "puid"}), on="puid")
    mids = base.with_row_index("mid").select(pl.col("mid").cast(pl.Int64), "owner_person_id")
    scored = scored.join(mids, on="mid").filter(
        pl.col("owner_person_id").is_null() | (pl.col("person_id") != pl.col("owner_person_id"))
    )
    # Posterior over persons: P(person p) = a·LR_p / (1 + a·Σ LR_q), a = prior_in_data / persons,
    # LR_p = 2^evidence of p's best record (records of one person are not independent evidence).
    a = prior_in_data / max(person_ids["person_id"].n_unique(), 1)
    best = (
        scored.group_by("mid", "person_id")
        .agg(pl.col("ev").max().clip(-200, 200))
        .with_columns((pl.lit(a) * pl.lit(2.0).pow(pl.col("ev"))).alias("alr"))
        .with_columns((pl.col("alr") / (1.0 + pl.col("alr").sum().over("mid"))).alias("conf"))
        .sort(["mid", "conf", "person_id"], descending=[False, True, False])
        .group_by("mid", maintain_order=True)
        .agg(
            pl.col("person_id").first().alias("pid"),
            pl.col("conf").first(),
            pl.col("conf").get(1, null_on_oob=True).fill_null(0.0).alias("conf2"),
        )
    )
    out = base.with_row_index("mid").with_columns(pl.col("mid").cast(pl.Int64)).join(
        best, on="mid", how="left", maintain_order="left"
    )
    return out.with_columns(
        pl.when((pl.col("conf") >= min_confidence) & (pl.col("conf") >= min_margin * pl.col("conf2")))
        .then(pl.col("pid"))
        .otherwise(None)
        .alias("mentioned_person_id"),
        pl.col("conf").fill_null(0.0).clip(0.0, 1.0).alias("mention_confidence"),
    ).drop("mid", "pid", "conf", "conf2")
