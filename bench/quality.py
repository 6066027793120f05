"""Pairwise linkage quality against the generator's truth, computed from cluster sizes.

A pair of records is predicted when both records share a predicted cluster and true when both
share ``true_person_id``. Counts come from contingency-table sizes (sum of n·(n-1)/2), so the
figure is exact and costs O(records) even at 100k households.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl


def _pairs(df: pl.DataFrame, cols: list[str]) -> int:
    sizes = df.group_by(cols).len()["len"].cast(pl.Int64)
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(predicted: pl.DataFrame, truth_csv: Path, records: pl.DataFrame) -> dict[str, float | int]:
    """Pairwise precision, recall and F1 over ``records``.

    Args:
        predicted: ``source``, ``record_id``, ``cluster`` (any type) per record; a record with no
            row is a singleton.
        truth_csv: the generator's ``persons.csv`` (``source``, ``record_id``, ``true_person_id``).
        records: ``source``, ``record_id`` of every record scored (the linkage input).
    """
    truth = pl.read_csv(truth_csv, schema_overrides={"record_id": pl.Utf8, "source": pl.Utf8})
    base = records.select(pl.col("source").cast(pl.Utf8), pl.col("record_id").cast(pl.Utf8)).unique()
    pred = predicted.select(pl.col("source").cast(pl.Utf8), pl.col("record_id").cast(pl.Utf8),
                            pl.col("cluster").cast(pl.Utf8))
    df = base.join(truth, on=["source", "record_id"], how="left").join(pred, on=["source", "record_id"], how="left")
    df = df.with_columns(
        pl.coalesce("cluster", pl.lit("singleton:") + pl.col("source") + ":" + pl.col("record_id")).alias("cluster"),
        pl.coalesce("true_person_id", pl.lit("untrue:") + pl.col("source") + ":" + pl.col("record_id"))
        .alias("true_person_id"),
    )
    p = _pairs(df, ["cluster"])
    t = _pairs(df, ["true_person_id"])
    tp = _pairs(df, ["cluster", "true_person_id"])
    precision = tp / p if p else 1.0
    recall = tp / t if t else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "true_pairs": t, "predicted_pairs": p, "true_positive_pairs": tp, "records": df.height,
            "records_without_truth": int(df["true_person_id"].str.starts_with("untrue:").sum())}
