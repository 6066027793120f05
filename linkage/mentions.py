"""Resolve mentions (related people, named children, dependants) to linked persons.

A mention is compared with people records by the same comparison features and Fellegi–Sunter model
as record pairs. Its address context is the owner's record (postcode, first address line); a
forename-only mention borrows the owner's surname. The owner's own person is never a candidate.
The confidence is the best person's match probability, discounted when a second person competes.
"""

from __future__ import annotations

import polars as pl

from linkage.blocking import BlockingPass
from linkage.compare import compare_pairs
from linkage.frames import levels_to_polars, to_recordlinkage
from linkage.model import FSModel, score
from linkage.standardise import standardise_people

MENTION_PASSES: tuple[BlockingPass, ...] = (
    BlockingPass("nhs", ("nhs",)),
    BlockingPass("names", ("fn_key", "sn_ph")),
    BlockingPass("dob_surname", ("dob_s", "sn_ph")),
    BlockingPass("dob_forename", ("dob_s", "fn_key")),
    BlockingPass("postcode_forename", ("pc", "fn_key")),
    BlockingPass("swapped", ("fn_ph", "sn_ph", "pc_out"), ("sn_ph", "fn_ph", "pc_out")),
)
MAX_CANDIDATES_PER_KEY = 100


def _mention_people_frame(mentions: pl.DataFrame, people: pl.DataFrame) -> pl.DataFrame:
    """Mentions laid out as people rows, with the owner's context filled in."""
    owner = people.select(
        pl.col("source"),
        pl.col("record_id").cast(pl.Utf8).alias("owner_record_id"),
        pl.col("surname").alias("_owner_surname"),
        pl.col("postcode").alias("_owner_postcode"),
        pl.col("address_line1").alias("_owner_address"),
    ).unique(subset=["source", "owner_record_id"], keep="first")
    m = mentions.with_row_index("_mid").with_columns(pl.col("owner_record_id").cast(pl.Utf8))
    m = m.join(owner, on=["source", "owner_record_id"], how="left")
    sn_blank = pl.col("surname").is_null() | (pl.col("surname").str.strip_chars() == "")
    return m.select(
        pl.lit("~mention").alias("source"),
        pl.col("_mid").cast(pl.Utf8).alias("record_id"),
        pl.col("forename"),
        pl.when(sn_blank).then(pl.col("_owner_surname")).otherwise(pl.col("surname")).alias("surname"),
        pl.col("dob").cast(pl.Date),
        pl.col("nhs_number") if "nhs_number" in m.columns else pl.lit(None, dtype=pl.Utf8).alias("nhs_number"),
        pl.col("_owner_postcode").alias("postcode"),
        pl.col("_owner_address").alias("address_line1"),
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
    nicknames_path,  # type: ignore[no-untyped-def]
    nickname_pairs: frozenset[str],
    min_confidence: float = 0.5,
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
    mframe = _mention_people_frame(mentions, people)
    offset = people_std.height
    mstd = standardise_people(mframe, nicknames_path).with_columns(pl.col("uid") + offset)
    cands = _mention_candidates(mstd, people_std)
    if cands.height == 0:
        return empty
    allrec = pl.concat([people_std, mstd], how="diagonal_relaxed")
    pdf, idx = to_recordlinkage(allrec, cands.select(pl.col("uid_r").alias("uid_l"), pl.col("uid_l").alias("uid_r")))
    levels = levels_to_polars(compare_pairs(idx, pdf, nickname_pairs))
    scored = score(levels, people_std, model).select(
        pl.col("uid_l").alias("puid"), (pl.col("uid_r") - offset).alias("mid"), "match_probability"
    )
    scored = scored.join(person_ids.rename({"uid": "puid"}), on="puid")
    mids = base.with_row_index("mid").select(pl.col("mid").cast(pl.Int64), "owner_person_id")
    scored = scored.join(mids, on="mid").filter(
        pl.col("owner_person_id").is_null() | (pl.col("person_id") != pl.col("owner_person_id"))
    )
    best = (
        scored.group_by("mid", "person_id")
        .agg(pl.col("match_probability").max().alias("p"))
        .sort(["mid", "p", "person_id"], descending=[False, True, False])
        .group_by("mid", maintain_order=True)
        .agg(pl.col("person_id").first().alias("pid"), pl.col("p").first().alias("p1"),
             pl.col("p").get(1, null_on_oob=True).fill_null(0.0).alias("p2"))
        .with_columns((pl.col("p1") * pl.col("p1") / (pl.col("p1") + pl.col("p2"))).alias("conf"))
    )
    out = base.with_row_index("mid").with_columns(pl.col("mid").cast(pl.Int64)).join(
        best, on="mid", how="left", maintain_order="left"
    )
    return out.with_columns(
        pl.when(pl.col("conf") >= min_confidence).then(pl.col("pid")).otherwise(None).alias("mentioned_person_id"),
        pl.col("conf").fill_null(0.0).clip(0.0, 1.0).alias("mention_confidence"),
    ).drop("mid", "pid", "p1", "p2", "conf")
