"""Linkage quality: pairwise precision/recall of person_links.csv against truth.

Usage::

    python -m bench.linkage_quality sample
    python -m bench.linkage_quality generated --households 20000 [--model config/linkage_model.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from bench.linkage_common import ROOT, ingest, pairwise_pr
from linkage import link_night

SAMPLE_DATE = dt.date(2026, 11, 25)


def run(night_dir: Path, truth_dir: Path, model: Path, extract_date: dt.date) -> dict:
    """Link one ingested night and score it."""
    state = f"sqlite:///{night_dir.parent / 'state.sqlite'}"
    t = time.perf_counter()
    res = link_night(night_dir, model, state, extract_date, ROOT / "config")
    secs = time.perf_counter() - t
    pr = pairwise_pr(night_dir / "person_links.csv", truth_dir / "persons.csv")
    out = {"pairwise": pr, "seconds": round(secs, 2), "result": res.__dict__}
    out["guards"] = guard_checks(night_dir, truth_dir)
    out["mentions"] = mention_accuracy(night_dir, truth_dir)
    return out


def guard_checks(night_dir: Path, truth_dir: Path) -> dict:
    """Over-merged twins and parent/child namesakes (from the truth people table)."""
    people_path = truth_dir / "people.csv"
    if not people_path.exists():
        return {}
    tp = pl.read_csv(people_path, infer_schema_length=0)
    truth = pl.read_csv(truth_dir / "persons.csv", schema_overrides={"record_id": pl.Utf8})
    links = pl.read_csv(night_dir / "person_links.csv", schema_overrides={"record_id": pl.Utf8})
    j = truth.join(links, on=["source", "record_id"])
    per = j.group_by("person_id").agg(pl.col("true_person_id").unique())
    merged = per.filter(pl.col("true_person_id").list.len() > 1).explode("true_person_id")
    merged = merged.join(tp, on="true_person_id")
    twins = 0
    namesakes = 0
    for _, grp in merged.group_by("person_id"):
        rows = grp.to_dicts()
        for i in range(len(rows)):
            for k in range(i + 1, len(rows)):
                a, b = rows[i], rows[k]
                if a["date_of_birth"] == b["date_of_birth"] and a["household_id"] == b["household_id"]:
                    twins += 1
                elif (a["forename"], a["surname"]) == (b["forename"], b["surname"]):
                    namesakes += 1
    return {"over_merged_true_person_pairs": merged["person_id"].n_unique(), "twins_merged": twins,
            "namesakes_merged": namesakes}


def mention_accuracy(night_dir: Path, truth_dir: Path) -> dict:
    """Share of mentions resolved to the right person (truth related.csv)."""
    rel_path = truth_dir / "related.csv"
    if not rel_path.exists():
        return {}
    rel = pl.read_csv(rel_path, schema_overrides={"owner_record_id": pl.Utf8})
    m = pl.read_parquet(night_dir / "linkage" / "mentions.parquet")
    truth = pl.read_csv(truth_dir / "persons.csv", schema_overrides={"record_id": pl.Utf8})
    links = pl.read_csv(night_dir / "person_links.csv", schema_overrides={"record_id": pl.Utf8})
    # the true person of each pipeline person (majority)
    maj = (truth.join(links, on=["source", "record_id"]).group_by("person_id", "true_person_id").len()
           .sort("len", descending=True).unique("person_id", keep="first")
           .select("person_id", pl.col("true_person_id").alias("resolved_true")))
    has_rec = truth.select("true_person_id").unique().with_columns(pl.lit(True).alias("has_record"))
    j = rel.rename({"row_number": "row"}).join(m.select("file", "row", "mentioned_person_id", "mention_confidence"),
                                              on=["file", "row"], how="left")
    j = j.join(maj, left_on="mentioned_person_id", right_on="person_id", how="left")
    j = j.join(has_rec, on="true_person_id", how="left").with_columns(pl.col("has_record").fill_null(False))
    resolvable = j.filter(pl.col("has_record"))
    correct = int((resolvable["resolved_true"] == resolvable["true_person_id"]).sum())
    wrong = int(((j["resolved_true"] != j["true_person_id"]) & j["resolved_true"].is_not_null()).sum())
    return {"mentions": j.height, "resolvable": resolvable.height, "correct": correct,
            "wrong_person": wrong,
            "unresolved_but_resolvable": int(resolvable["mentioned_person_id"].is_null().sum())}


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["sample", "generated"])
    ap.add_argument("--households", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--model", type=Path, default=ROOT / "config" / "linkage_model.json")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="linkq_"))
    if args.what == "sample":
        night = work / "out" / SAMPLE_DATE.isoformat()
        if not (night / "landing" / "people.parquet").exists():
            ingest(ROOT / "tests" / "fixtures" / "sample", SAMPLE_DATE, night)
        out = run(night, ROOT / "tests" / "fixtures" / "sample" / "truth", args.model, SAMPLE_DATE)
    else:
        from synth.generate import generate_county

        night = work / "out" / SAMPLE_DATE.isoformat()
        if not (night / "landing" / "people.parquet").exists():
            t = time.perf_counter()
            generate_county(work / "gen", SAMPLE_DATE, args.households, args.seed, 1)
            ingest(work / "gen" / "landing", SAMPLE_DATE, night)
            logging.warning("generated + ingested in %.1fs", time.perf_counter() - t)
        out = run(night, work / "gen" / "truth" / SAMPLE_DATE.isoformat(), args.model, SAMPLE_DATE)
    sys.stdout.write(json.dumps(out, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
