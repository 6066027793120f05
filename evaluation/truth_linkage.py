"""Linkage outputs derived from a synthetic drop's truth, for tests and for scoring the rules in isolation.

Writes ``linkage/records.parquet`` and ``linkage/mentions.parquet`` (and ``person_links.csv``) exactly as
the linkage stage would, with ``person_id`` = the true person id and every confidence 1.0.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ground.layout import NightLayout


def write_truth_linkage(truth_dir: Path, night_dir: Path) -> None:
    """Build the linkage files of ``night_dir`` from ``truth_dir`` (``persons.csv``, ``related.csv``).

    Args:
        truth_dir: the drop's ``truth/`` folder.
        night_dir: a night folder holding ``landing/people.parquet`` and ``landing/mentions.parquet``.
    """
    persons = pl.read_csv(truth_dir / "persons.csv", infer_schema=False)
    related = pl.read_csv(truth_dir / "related.csv", infer_schema=False).select(
        "file", pl.col("row_number").cast(pl.Int64).alias("row"), pl.col("true_person_id").alias("mentioned_person_id")
    )
    night = NightLayout(night_dir)
    people = pl.read_parquet(night.people)
    mentions = pl.read_parquet(night.mentions)
    records = (
        people.select("source", "record_id")
        .join(persons, on=["source", "record_id"], how="left")
        .with_columns(
            pl.coalesce("true_person_id", pl.concat_str([pl.lit("X"), "source", "record_id"])).alias("person_id")
        )
        .with_columns(
            pl.len().over("person_id").cast(pl.Int64).alias("cluster_size"),
            pl.lit(1.0).alias("link_confidence"),
        )
        .select("source", "record_id", "person_id", "cluster_size", "link_confidence")
    )
    owners = records.select(
        "source", pl.col("record_id").alias("owner_record_id"), pl.col("person_id").alias("owner_person_id")
    )
    linked = (
        mentions.join(owners, on=["source", "owner_record_id"], how="left")
        .join(related, on=["file", "row"], how="left")
        .with_columns(
            pl.when(pl.col("mentioned_person_id").is_not_null()).then(1.0).otherwise(0.0).alias("mention_confidence")
        )
    )
    out = night.linkage
    out.mkdir(parents=True, exist_ok=True)
    records.write_parquet(night.linked_records)
    linked.write_parquet(night.resolved_mentions)
    records.select("source", "record_id", "person_id").sort("source", "record_id").write_csv(
        night.person_links
    )
