"""Linkage on public data nobody on the project generated, through the product path.

``python -m bench.external [--datasets febrl4,febrl1,febrl2] [--splink] [--out bench/.external]``

For each dataset: :mod:`bench.external_drop` writes it as a contract drop, then ``safelink run`` links it
exactly as shipped (default configuration, no model, a fresh output folder: the night fits its own model, as a
new deployment's first night does). The night's outputs are scored against the dataset's truth:

- auto-link precision, recall and F1 over record pairs (``person_links.csv``), over the records the gate
  accepted (rows it set aside, e.g. a blank surname, are counted separately);
- the share of true pairs linked or put to clerical review (``linkage/pairs.parquet`` decision ``review``);
- the review load (review pairs, and as a share of records);
- the model's training time (the night's fit, from ``run_summary.json``).

With ``--splink``, Splink 5 links the same night's people table (``bench.splink_compare.run_splink``: its
documented defaults, trained by EM on the drop itself) and is scored the same way, in the same run.
Results go to ``bench/results/external.json``; docs/benchmarks.md quotes them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

from bench.external_drop import DEFAULT_DATE, write_drop
from bench.quality import pairwise_scores

RESULTS = Path(__file__).resolve().parent / "results" / "external.json"


def _true_pairs(truth: pl.DataFrame) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    keys = truth.select((pl.col("source") + ":" + pl.col("record_id")).alias("k"), "true_person_id")
    for group in keys.group_by("true_person_id").agg("k")["k"].to_list():
        pairs.update((a, b) if a < b else (b, a) for a, b in itertools.combinations(group, 2))
    return pairs


def review_coverage(night: Path, truth_csv: Path) -> dict[str, Any]:
    """Share of true pairs (among accepted records) that were linked or put to clerical review.

    Args:
        night: the night's output folder.
        truth_csv: ``persons.csv`` of the dataset.
    """
    links = pl.read_csv(night / "person_links.csv", schema_overrides={"record_id": pl.String})
    truth = pl.read_csv(truth_csv, schema_overrides={"record_id": pl.String, "true_person_id": pl.String})
    truth = truth.join(links.select("source", "record_id"), on=["source", "record_id"], how="semi")
    true_pairs = _true_pairs(truth)
    linked = _true_pairs(links.rename({"person_id": "true_person_id"}))
    pairs = pl.read_parquet(night / "linkage" / "pairs.parquet")
    review = pairs.filter(pl.col("decision") == "review").select(
        pl.concat_list(pl.col("source_l") + ":" + pl.col("record_id_l").cast(pl.String),
                       pl.col("source_r") + ":" + pl.col("record_id_r").cast(pl.String)).list.sort().alias("p"))
    reviewed = {(a, b) for a, b in review["p"].to_list()}
    covered = len(true_pairs & (linked | reviewed))
    return {"true_pairs": len(true_pairs), "linked_or_review": round(covered / max(len(true_pairs), 1), 4),
            "review_pairs": len(reviewed), "review_share_of_records": round(len(reviewed) / max(links.height, 1), 4)}


def run_product(landing: Path, extract_date: dt.date, output: Path) -> float:
    """``safelink run`` as a user would call it (shipped configuration); returns wall seconds.

    Args:
        landing: the drop's landing root.
        extract_date: the night.
        output: a fresh output folder.
    """
    started = time.perf_counter()
    cli = Path(sys.executable).with_name("safelink")
    subprocess.run([str(cli), "run", "--landing", str(landing), "--date", extract_date.isoformat(),
                    "--output", str(output)], check=True, env=dict(os.environ), stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def score_dataset(name: str, work: Path, splink: bool) -> dict[str, Any]:
    """Write one dataset's drop, run the product on it (and Splink), and score both.

    Args:
        name: dataset name.
        work: scratch folder for this dataset.
        splink: also run Splink 5 on the same people table.
    """
    shutil.rmtree(work, ignore_errors=True)
    landing = write_drop(name, work, DEFAULT_DATE)
    truth = work / "truth" / "persons.csv"
    seconds = run_product(landing, DEFAULT_DATE, work / "out")
    night = work / "out" / DEFAULT_DATE.isoformat()
    summary = json.loads((night / "run_summary.json").read_text(encoding="utf-8"))
    link = summary["stages"]["link"]
    people = pl.read_parquet(night / "landing" / "people.parquet").select("source", "record_id")
    in_drop = pl.read_csv(truth, infer_schema=False).height
    links = pl.read_csv(night / "person_links.csv", schema_overrides={"record_id": pl.String})
    ours = pairwise_scores(links.rename({"person_id": "cluster"}), truth, people)
    result: dict[str, Any] = {
        "dataset": name, "records_in_drop": in_drop, "records_linked": people.height,
        "set_aside_by_gate": in_drop - people.height, "run_seconds": round(seconds, 1),
        "ours": {**ours, **review_coverage(night, truth), "model": link.get("model", {}),
                 "pass_coverage": link.get("pass_coverage", {})},
    }
    if splink:
        from bench.splink_compare import run_splink

        facts = run_splink(night / "landing" / "people.parquet", work / "splink", profile="external")
        clusters = pl.read_parquet(work / "splink" / "clusters.parquet")
        result["splink"] = {**pairwise_scores(clusters, truth, people), "seconds": facts["seconds"]}
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line.

    Args:
        argv: arguments (default: ``sys.argv``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="febrl4,febrl1,febrl2")
    parser.add_argument("--splink", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/.external"))
    args = parser.parse_args(argv)
    results = [score_dataset(n, args.out / n, args.splink) for n in args.datasets.split(",")]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    sys.stdout.write(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
