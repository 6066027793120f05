"""Score a run's ``findings.csv`` and ``person_links.csv`` against a synthetic drop's truth.

A run's person_id maps to the true person that most of its records belong to (ties: the smallest
true id; a person_id with no record keeps its own id). A finding matches a truth row when the rule
matches and the mapped child and adult ids equal the truth's (blank on both sides counts as equal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from alerts.rules.registry import RULE_NAMES
from ground.layout import NightLayout

RULES = RULE_NAMES


def _ratio(num: int, den: int) -> float:
    return round(num / den, 6) if den else 1.0


def person_map(links: pl.DataFrame, persons: pl.DataFrame) -> pl.DataFrame:
    """Each run ``person_id`` → the majority ``true_person_id`` of its records.

    Args:
        links: the run's ``person_links.csv`` (source, record_id, person_id).
        persons: the truth's ``persons.csv`` (source, record_id, true_person_id).
    """
    return (
        links.join(persons, on=["source", "record_id"], how="inner")
        .group_by("person_id", "true_person_id")
        .len()
        .sort(["person_id", "len", "true_person_id"], descending=[False, True, False])
        .unique(subset="person_id", keep="first")
        .select("person_id", "true_person_id")
    )


def _pairs(frame: pl.DataFrame, cluster: str) -> pl.DataFrame:
    keyed = frame.select(pl.concat_str(["source", pl.lit(":"), "record_id"]).alias("ref"), cluster)
    return (
        keyed.join(keyed, on=cluster, suffix="_r")
        .filter(pl.col("ref") < pl.col("ref_r"))
        .select("ref", "ref_r")
        .unique()
    )


def linkage_scores(links: pl.DataFrame, persons: pl.DataFrame) -> dict[str, Any]:
    """Pairwise precision/recall of the run's record pairs (same person_id) against the truth's.

    Args:
        links: the run's ``person_links.csv``.
        persons: the truth's ``persons.csv``.
    """
    common = links.join(persons.select("source", "record_id"), on=["source", "record_id"], how="semi")
    run_pairs = _pairs(common, "person_id")
    true_pairs = _pairs(persons, "true_person_id")
    hits = run_pairs.join(true_pairs, on=["ref", "ref_r"], how="semi").height
    return {"run_pairs": run_pairs.height, "true_pairs": true_pairs.height, "true_positive": hits,
            "precision": _ratio(hits, run_pairs.height), "recall": _ratio(hits, true_pairs.height)}


def score_run(truth_dir: Path, night_dir: Path) -> dict[str, Any]:
    """Per-rule precision/recall of ``findings.csv`` and pairwise linkage precision/recall.

    Args:
        truth_dir: the drop's ``truth/`` folder (``persons.csv``, ``findings.csv``).
        night_dir: the run's night folder (``person_links.csv``, ``findings.csv``).

    Returns:
        ``{"rules": {rule: {run, truth, true_positive, precision, recall}}, "linkage": {...}}``.
    """
    persons = pl.read_csv(truth_dir / "persons.csv", infer_schema=False)
    links = pl.read_csv(NightLayout(night_dir).person_links, infer_schema=False)
    mapping = person_map(links, persons)
    run = pl.read_csv(NightLayout(night_dir).findings_csv, infer_schema=False)
    for side in ("child", "adult"):
        run = run.join(
            mapping.rename({"person_id": f"{side}_person_id", "true_person_id": f"{side}_true"}),
            on=f"{side}_person_id", how="left",
        ).with_columns(
            pl.when(pl.col(f"{side}_person_id").is_null()).then(pl.lit(""))
            # a person with no record in person_links.csv (e.g. truth-derived linkage resolving a mention to
            # someone no source holds) keeps its own id
            .otherwise(pl.coalesce(f"{side}_true", f"{side}_person_id")).alias(f"{side}_true")
        )
    run_keys = run.select("rule", "child_true", "adult_true")
    truth = pl.read_csv(truth_dir / "findings.csv", infer_schema=False).select(
        "rule",
        pl.col("child_true_person_id").fill_null("").alias("child_true"),
        pl.col("adult_true_person_id").fill_null("").alias("adult_true"),
    ).unique()
    rules: dict[str, Any] = {}
    for rule in RULES:
        mine = run_keys.filter(pl.col("rule") == rule)
        theirs = truth.filter(pl.col("rule") == rule)
        tp_run = mine.join(theirs, on=["rule", "child_true", "adult_true"], how="semi").height
        tp_truth = theirs.join(mine, on=["rule", "child_true", "adult_true"], how="semi").height
        rules[rule] = {"run": mine.height, "truth": theirs.height, "true_positive": tp_truth,
                       "precision": _ratio(tp_run, mine.height), "recall": _ratio(tp_truth, theirs.height)}
    return {"rules": rules, "linkage": linkage_scores(links, persons)}
