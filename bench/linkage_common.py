"""Shared helpers for the linkage benchmarks: ingest a drop, pairwise precision/recall vs truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]


def ingest(landing: Path, extract_date: dt.date, night_dir: Path) -> None:
    """Ingest one drop with the project's landing stage into ``night_dir/landing``."""
    from ground.sources import load_sources
    from landing.ingest import ingest_drop

    ingest_drop(landing, extract_date, load_sources(ROOT / "config" / "sources.yaml"), night_dir)


def pairwise_pr(links_csv: Path, truth_csv: Path) -> dict[str, float]:
    """Pairwise precision / recall / F1 of person_links.csv against truth persons.csv."""
    pred = pl.read_csv(links_csv, schema_overrides={"record_id": pl.Utf8})
    truth = pl.read_csv(truth_csv, schema_overrides={"record_id": pl.Utf8})
    df = truth.join(pred, on=["source", "record_id"], how="inner")

    def pairs(col: str) -> set[tuple[int, int]]:
        idx = df.with_row_index("i").group_by(col).agg(pl.col("i"))
        out: set[tuple[int, int]] = set()
        for members in idx["i"].to_list():
            members = sorted(members)
            for a in range(len(members)):
                for b in range(a + 1, len(members)):
                    out.add((members[a], members[b]))
        return out

    p, t = pairs("person_id"), pairs("true_person_id")
    tp = len(p & t)
    prec = tp / len(p) if p else 1.0
    rec = tp / len(t) if t else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "true_pairs": len(t), "predicted_pairs": len(p),
            "false_pos": len(p - t), "false_neg": len(t - p), "records_scored": df.height,
            "records_missing": truth.height - df.height}
