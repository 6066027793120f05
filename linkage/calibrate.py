"""Self-calibration: fit the Fellegi–Sunter model to a deployment's own records.

The way Splink trains, on one night's standardised records and blocked candidate pairs:

- **u** from uniformly random record pairs (almost all non-matches), per comparison;
- **m** by EM (u fixed) over the candidate pairs of each blocking pass separately, each pass training only
  the comparisons it does not block on (a pass on date of birth says nothing about how often matches share
  one); a comparison's m is the average over the passes that trained it, weighted by each pass's expected
  matches, and a Dirichlet prior centred on the starting model's m keeps a small night close to it;
- **λ** (the prior) as the fixed point of ``M = Σ P(match | pair)`` over the candidate pairs, where the prior
  of a pair is ``M / (n(n−1)/2)``: EM for λ alone with m and u fixed, over all pairs, the pairs blocking never
  proposes counting as non-matches.

The result is checked before anyone relies on it (:func:`sanity_problems`); a model that fails is refused
with the reasons, never used quietly. Comparisons tonight's data cannot inform (a field no source fills)
keep the starting model's m and u, and the provenance says so.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from linkage.blocking import BlockingPass
from linkage.compare import LEVELS, MISSING
from linkage.model import FSModel, em_fit, pattern_counts

#: Which comparison a blocking key constrains (a pass does not train the comparisons it blocks on).
KEY_COMPARISON = {
    "nhs": "nhs", "sex": "sex",
    "dob_s": "dob", "dob_y": "dob", "dob_dm": "dob",
    "sn": "surname", "sn_ph": "surname", "sn_ny": "surname", "sn3": "surname",
    "fn": "forename", "fn_key": "forename", "fn_ph": "forename", "fn3": "forename",
    "pc": "location", "pc_out": "location", "pc_sector": "location", "addr": "location", "addr_head": "location",
    "addr_num": "location", "street": "location", "street4": "location",
}
#: Keys built from both names (in either order, or any one of them) constrain both name comparisons.
NAME_KEYS = frozenset({"names_ph", "names3", "name_ph_any", "name3_any"})
#: The level that must be more likely among matches than among non-matches for a model to be sane.
AGREEING_LEVEL = {"forename": "exact", "surname": "exact", "dob": "exact", "location": "postcode_and_address",
                  "nhs": "exact", "sex": "same"}
DISAGREEING_LEVEL = {"forename": "different", "surname": "different", "dob": "different", "location": "different",
                     "nhs": "different", "sex": "different"}


class FitError(Exception):
    """The model could not be fitted, or failed its sanity checks (the message lists why; no person data)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class FitSettings:
    """How to fit (from ``linkage.yaml`` ``training``)."""

    random_pairs: int = 400_000
    seed: int = 1
    min_observed: int = 1000
    min_pass_pairs: int = 50
    min_expected_matches: float = 20.0
    prior_strength: float = 20.0
    max_iter: int = 500
    tolerance: float = 1e-4


@dataclass
class PassFit:
    """One blocking pass's EM (counts only)."""

    name: str
    pairs: int
    trained: list[str]
    expected_matches: float
    iterations: int
    converged: bool
    m: dict[str, list[float]] = field(default_factory=dict)


def estimate_u_observed(random_levels: pl.DataFrame, comparisons: list[str], min_observed: int
                        ) -> tuple[dict[str, list[float]], dict[str, int]]:
    """u per comparison from random pairs, for the comparisons observed often enough.

    Args:
        random_levels: comparison levels of random record pairs.
        comparisons: comparison columns.
        min_observed: random pairs with both sides present needed to estimate a comparison's u.

    Returns:
        ``(u, observed)``: u for the comparisons with enough observations; pairs observed per comparison.
    """
    u: dict[str, list[float]] = {}
    observed: dict[str, int] = {}
    for c in comparisons:
        col = random_levels[c].to_numpy()
        col = col[col >= 0]
        observed[c] = int(col.size)
        if col.size >= min_observed:
            cnt = np.bincount(col.astype(np.int64), minlength=len(LEVELS[c])).astype(float) + 1.0
            u[c] = (cnt / cnt.sum()).tolist()
    return u, observed


def blocked_comparisons(bp: BlockingPass) -> set[str]:
    """The comparisons a blocking pass constrains.

    Args:
        bp: the pass.
    """
    keys = (*bp.keys, *(bp.right or ()))
    names = {"forename", "surname"} if NAME_KEYS & set(keys) else set()
    return names | {KEY_COMPARISON.get(k, k) for k in keys if k not in NAME_KEYS}


def fit_pass(levels: pl.DataFrame, bp: BlockingPass, trainable: list[str], start: FSModel,
             u: dict[str, list[float]], settings: FitSettings) -> PassFit | None:
    """EM over one pass's candidate pairs, u fixed, for the comparisons the pass does not block on.

    Args:
        levels: the pass's candidate pairs' comparison levels.
        bp: the pass.
        trainable: comparisons with an estimated u.
        start: the starting model (initial m and the prior's centre).
        u: u per trainable comparison.
        settings: fit settings.
    """
    comps = [c for c in trainable if c not in blocked_comparisons(bp)]
    if levels.height < settings.min_pass_pairs or not comps:
        return None
    patterns, counts = pattern_counts(levels, comps)
    m0 = [np.asarray(start.m[c], dtype=float) for c in comps]
    m, _, lam, iters = em_fit(patterns, counts, [len(LEVELS[c]) for c in comps], m0,
                              [np.asarray(u[c]) for c in comps], lam_init=0.3, fix_u=True,
                              max_iter=settings.max_iter, tol=settings.tolerance,
                              m_prior_strength=settings.prior_strength)
    return PassFit(name=bp.name, pairs=levels.height, trained=comps, expected_matches=lam * float(counts.sum()),
                   iterations=iters, converged=iters < settings.max_iter,
                   m={c: m[i].tolist() for i, c in enumerate(comps)})


def combine_m(fits: list[PassFit], start: FSModel, comparisons: list[str]) -> dict[str, list[float]]:
    """Each comparison's m: the passes' estimates averaged by expected matches (the start's where none).

    Args:
        fits: the passes' fits.
        start: the starting model.
        comparisons: all comparisons.
    """
    out: dict[str, list[float]] = {}
    for c in comparisons:
        parts = [(f.expected_matches, f.m[c]) for f in fits if c in f.m and f.expected_matches > 0]
        if parts:
            weights = np.asarray([w for w, _ in parts])
            out[c] = np.average(np.asarray([m for _, m in parts]), axis=0, weights=weights).tolist()
        else:
            out[c] = list(start.m[c])
    return out


def estimate_matches(weights: np.ndarray, n_records: int, tol: float = 1e-9, max_iter: int = 1000) -> float:
    """Expected number of matching pairs M: the fixed point of ``M = Σ σ(w_i + logit λ)``, ``λ = M / N``.

    Args:
        weights: each candidate pair's summed log2 Bayes factor (no prior).
        n_records: records linked (``N = n(n−1)/2`` pairs in all).
    """
    n_all = max(n_records * (n_records - 1) / 2.0, 1.0)
    lam = min(max(n_records / 2.0, 1.0) / n_all, 0.5)
    for _ in range(max_iter):
        prior = math.log2(lam / (1.0 - lam))
        matches = float((1.0 / (1.0 + np.exp2(-(weights + prior)))).sum())
        new = min(max(matches, 1e-9) / n_all, 0.5)
        if abs(new - lam) <= tol * lam:
            lam = new
            break
        lam = new
    return lam * n_all


def pair_weights(levels: pl.DataFrame, model: FSModel) -> np.ndarray:
    """Summed log2(m/u) of each pair (missing levels weigh 0; no prior, no term frequencies).

    Args:
        levels: comparison levels.
        model: the model.
    """
    total = np.zeros(levels.height)
    for c in model.m:
        if c not in levels.columns:
            continue
        w = model.weights(c)
        col = levels[c].to_numpy().astype(np.int64)
        total += np.where(col == MISSING, 0.0, w[np.clip(col, 0, len(w) - 1)])
    return total


def sanity_problems(model: FSModel, fits: list[PassFit], trained: set[str], expected_matches: float,
                    settings: FitSettings) -> list[str]:
    """Why a fitted model must not be used (empty when it passes).

    Args:
        model: the fitted model.
        fits: the passes' fits.
        trained: comparisons whose m and u came from tonight's data.
        expected_matches: the estimated number of matching pairs.
        settings: fit settings.
    """
    problems: list[str] = []
    if not fits:
        problems.append("no blocking pass had enough candidate pairs to train on")
    elif not any(f.converged for f in fits):
        problems.append(f"EM converged on no blocking pass ({len(fits)} tried)")
    if expected_matches < settings.min_expected_matches:
        problems.append(f"too few likely matches to learn from ({expected_matches:.0f} expected pairs)")
    for c in sorted(trained):
        levels = LEVELS[c]
        good, bad = levels.index(AGREEING_LEVEL[c]), levels.index(DISAGREEING_LEVEL[c])
        if model.m[c][good] <= model.u[c][good]:
            problems.append(f"{c}: m <= u on level {AGREEING_LEVEL[c]!r}")
        if model.m[c][bad] >= model.u[c][bad]:
            problems.append(f"{c}: m >= u on level {DISAGREEING_LEVEL[c]!r}")
    return problems


def fit_model(candidate_levels: pl.DataFrame, random_levels: pl.DataFrame, passes: tuple[BlockingPass, ...],
              n_records: int, start: FSModel, settings: FitSettings, provenance: dict[str, Any]) -> FSModel:
    """Fit m, u and λ to one night's records (see the module docstring).

    Args:
        candidate_levels: tonight's candidate pairs: ``passes`` bit mask and one level column per comparison.
        random_levels: levels of random record pairs.
        passes: the blocking passes, in bit order.
        n_records: records linked tonight.
        start: the starting model (thresholds, prior centre, comparisons tonight cannot inform).
        settings: fit settings.
        provenance: facts to keep in the model's ``info`` (nights, source of the records).

    Raises:
        FitError: the fit failed its sanity checks.
    """
    started = time.perf_counter()
    comparisons = list(start.m)
    u_new, observed = estimate_u_observed(random_levels, comparisons, settings.min_observed)
    trainable = [c for c in comparisons if c in u_new]
    fits = []
    for i, bp in enumerate(passes):
        in_pass = candidate_levels.filter((pl.col("passes") & (1 << i)) != 0)
        fit = fit_pass(in_pass, bp, trainable, start, u_new, settings)
        if fit is not None:
            fits.append(fit)
    # a pass whose EM did not settle is kept out of m (and listed in the provenance)
    m = combine_m([f for f in fits if f.converged], start, comparisons)
    trained = {c for c in trainable if any(c in f.m for f in fits if f.converged)}
    u = {c: (u_new[c] if c in trained else list(start.u[c])) for c in comparisons}
    m = {c: (m[c] if c in trained else list(start.m[c])) for c in comparisons}
    model = FSModel(m=m, u=u, matches_per_record=start.matches_per_record, link_threshold=start.link_threshold,
                    review_threshold=start.review_threshold, tf_min_u=start.tf_min_u, tf_enabled=start.tf_enabled,
                    u_random=dict(u))
    expected = estimate_matches(pair_weights(candidate_levels, model), n_records)
    model.matches_per_record = expected / max(n_records, 1)
    problems = sanity_problems(model, fits, trained, expected, settings)
    if problems:
        raise FitError(problems)
    model.info = {
        **provenance,
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "started_from": start.version,
        "records": n_records,
        "candidate_pairs": candidate_levels.height,
        "random_pairs": random_levels.height,
        "expected_matching_pairs": round(expected, 1),
        "trained_comparisons": sorted(trained),
        "kept_from_start": sorted(set(comparisons) - trained),
        "observed_in_random_pairs": observed,
        "passes": [{"name": f.name, "pairs": f.pairs, "trained": f.trained, "iterations": f.iterations,
                    "converged": f.converged, "expected_matches": round(f.expected_matches, 1)} for f in fits],
        "fit_seconds": round(time.perf_counter() - started, 2),
    }
    digest = hashlib.sha256(json.dumps({"m": m, "u": u}, sort_keys=True).encode()).hexdigest()[:8]
    model.version = f"{datetime.now(UTC):%Y%m%d}-{digest}"
    return model
