"""Drift: has tonight's data moved away from the data the model was fitted on?

Each night the agreement-level distribution of every comparison over the candidate pairs (missing as its own
level) and the links and review pairs per record are measured and compared with the same figures measured on
the night the model was fitted (kept in the model's ``info.baseline``). A comparison whose population
stability index (PSI, Σ (p − q) ln(p / q)) exceeds ``drift.max_psi``, or links per record moving by more than
``drift.max_links_per_record_change`` (relative), is drift: the report and the designated professionals'
summary say so and advise retraining.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from linkage.compare import LEVELS, MISSING
from linkage.config import Drift


def level_counts(levels: pl.DataFrame) -> dict[str, list[int]]:
    """Pairs per agreement level of every comparison (``missing`` first, then the levels in order): what
    :func:`night_profile` needs from a set of pairs, summable over the parts of a night (its scoring shards).

    Args:
        levels: candidate pairs with one level column per comparison.
    """
    counts: dict[str, list[int]] = {}
    for c in LEVELS:
        if c not in levels.columns:
            continue
        found = levels.group_by(c).len()
        by_level = dict(zip(found[c].to_list(), found["len"].to_list(), strict=True))
        counts[c] = [int(by_level.get(i, 0)) for i in [MISSING, *range(len(LEVELS[c]))]]
    return counts


def add_level_counts(total: dict[str, list[int]], part: dict[str, list[int]]) -> dict[str, list[int]]:
    """Two :func:`level_counts` added level by level (a comparison in either is kept).

    Args:
        total: the counts so far.
        part: one more part's counts.
    """
    out = {c: list(v) for c, v in total.items()}
    for c, v in part.items():
        out[c] = [a + b for a, b in zip(out[c], v, strict=True)] if c in out else list(v)
    return out


def night_profile(levels: pl.DataFrame, decisions: pl.DataFrame, n_records: int) -> dict[str, Any]:
    """The figures drift is measured on (counts and shares only, no person data).

    Args:
        levels: tonight's candidate pairs with one level column per comparison.
        decisions: tonight's kept pairs with ``decision`` (``link`` / ``review`` / ``guarded``).
        n_records: records linked tonight.
    """
    return profile_of_counts(level_counts(levels), levels.height, decisions, n_records)


def profile_of_counts(counts: dict[str, list[int]], pairs: int, decisions: pl.DataFrame,
                      n_records: int) -> dict[str, Any]:
    """:func:`night_profile` from level counts summed over the night's parts (:func:`level_counts`).

    Args:
        counts: pairs per level of every comparison, over all of tonight's candidate pairs.
        pairs: tonight's candidate pairs.
        decisions: tonight's kept pairs with ``decision``.
        n_records: records linked tonight.
    """
    total = max(pairs, 1)
    shares = {c: [round(n / total, 6) for n in counts[c]] for c in LEVELS if c in counts}
    links = int((decisions["decision"] == "link").sum()) if decisions.height else 0
    review = int((decisions["decision"] == "review").sum()) if decisions.height else 0
    return {"candidate_pairs": pairs, "records": n_records, "level_shares": shares,
            "links_per_record": round(links / max(n_records, 1), 6),
            "review_per_record": round(review / max(n_records, 1), 6)}


def psi(expected: list[float], actual: list[float], floor: float = 1e-4) -> float:
    """Population stability index between two distributions over the same levels.

    Args:
        expected: baseline shares.
        actual: tonight's shares.
        floor: smallest share used (an empty level is not an infinite shift).
    """
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, floor), max(a, floor)
        total += (a - e) * math.log(a / e)
    return total


def measure_drift(baseline: dict[str, Any] | None, tonight: dict[str, Any], settings: Drift) -> dict[str, Any]:
    """Tonight's drift against the model's baseline.

    Args:
        baseline: ``night_profile`` of the night the model was fitted on (None: no baseline).
        tonight: ``night_profile`` of tonight.
        settings: drift limits.

    Returns:
        ``psi`` per comparison, ``links_per_record_change``, ``drifted`` (the comparisons and figures over
        their limits), ``retrain_advised`` and a one-line ``advice``.
    """
    if not baseline:
        return {"baseline": False, "psi": {}, "drifted": [], "retrain_advised": False,
                "advice": "no baseline: the model was not fitted on this deployment's data"}
    values = {c: round(psi(baseline["level_shares"][c], shares), 4) for c, shares in tonight["level_shares"].items()
              if c in baseline.get("level_shares", {}) and len(baseline["level_shares"][c]) == len(shares)}
    drifted = [c for c, v in sorted(values.items()) if v > settings.max_psi]
    before = float(baseline.get("links_per_record", 0.0))
    change = (float(tonight["links_per_record"]) - before) / before if before > 0 else 0.0
    if abs(change) > settings.max_links_per_record_change:
        drifted.append("links_per_record")
    advice = ("retrain: `safelink train --night <this night> --output <output> --activate` after review"
              if drifted else "no drift")
    return {"baseline": True, "psi": values, "links_per_record_change": round(change, 4), "drifted": drifted,
            "retrain_advised": bool(drifted), "advice": advice}
