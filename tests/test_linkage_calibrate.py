"""Self-calibration: EM per blocking pass recovers known m, u and the number of matches; refusals; drift."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from linkage.blocking import DEFAULT_PASSES, BlockingPass
from linkage.calibrate import KEY_COMPARISON, NAME_KEYS, FitError, FitSettings, blocked_comparisons, fit_model
from linkage.compare import LEVELS
from linkage.config import Drift
from linkage.drift import measure_drift, night_profile
from linkage.model import FSModel

COMPS = list(LEVELS)


def _dist(values: dict[str, float], comparison: str) -> np.ndarray:
    """A distribution over a comparison's levels: the named levels, the rest spread evenly."""
    levels = LEVELS[comparison]
    rest = (1.0 - sum(values.values())) / (len(levels) - len(values))
    return np.array([values.get(level, rest) for level in levels])


TRUE_M = {
    "forename": _dist({"exact": 0.85, "different": 0.03, "one_edit": 0.05}, "forename"),
    "surname": _dist({"exact": 0.80, "different": 0.04, "token": 0.06}, "surname"),
    "dob": _dist({"exact": 0.90, "different": 0.03, "one_digit": 0.04}, "dob"),
    "location": _dist({"postcode_and_address": 0.75, "different": 0.10, "postcode": 0.05}, "location"),
    "nhs": _dist({"exact": 0.97}, "nhs"),
    "sex": _dist({"same": 0.98}, "sex"),
}
TRUE_U = {
    "forename": _dist({"different": 0.93, "exact": 0.01}, "forename"),
    "surname": _dist({"different": 0.95, "exact": 0.005}, "surname"),
    "dob": _dist({"different": 0.96, "year_only": 0.03, "exact": 0.0005}, "dob"),
    "location": _dist({"different": 0.90, "outward": 0.05, "postcode_and_address": 0.0005}, "location"),
    "nhs": _dist({"different": 0.9999}, "nhs"),
    "sex": _dist({"same": 0.5}, "sex"),
}


def _draw(rng: np.random.Generator, n: int, probs: dict[str, np.ndarray], fixed: dict[str, str]) -> pl.DataFrame:
    cols = {}
    for c in COMPS:
        if c in fixed:
            cols[c] = np.full(n, LEVELS[c].index(fixed[c]), dtype=np.int8)
        else:
            cols[c] = rng.choice(len(LEVELS[c]), size=n, p=probs[c]).astype(np.int8)
    return pl.DataFrame(cols)


PASSES = (BlockingPass("dob", ("dob_s",)), BlockingPass("names", ("fn_key", "sn_ph")))


def _night(rng: np.random.Generator, matches_per_pass: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Candidate pairs of two passes (one blocking on DOB, one on both names) and random pairs."""
    parts = []
    for bit, fixed in ((1, {"dob": "exact"}), (2, {"forename": "exact", "surname": "exact"})):
        parts.append(_draw(rng, matches_per_pass, TRUE_M, fixed).with_columns(pl.lit(bit).alias("passes")))
        parts.append(_draw(rng, 2 * matches_per_pass, TRUE_U, fixed).with_columns(pl.lit(bit).alias("passes")))
    return pl.concat(parts), _draw(rng, 60_000, TRUE_U, {})


def test_em_recovers_known_parameters_from_several_passes() -> None:
    rng = np.random.default_rng(7)
    candidates, random_levels = _night(rng, matches_per_pass=4000)
    settings = FitSettings(min_observed=100, prior_strength=0.0, tolerance=1e-6)
    model = fit_model(candidates, random_levels, PASSES, 20_000, FSModel.neutral(), settings, {"nights": ["x"]})
    for c in COMPS:
        # each comparison is trained by the pass that does not block on it; u from the random pairs
        assert np.abs(np.asarray(model.m[c]) - TRUE_M[c]).max() < 0.03, c
        assert np.abs(np.asarray(model.u[c]) - TRUE_U[c]).max() < 0.01, c
    assert {p["name"]: p["trained"] for p in model.info["passes"]} == {
        "dob": ["forename", "surname", "location", "nhs", "sex"],
        "names": ["dob", "location", "nhs", "sex"],
    }
    # 8 000 matching pairs were drawn; λ is the fixed point over all pairs
    assert 7_600 < model.info["expected_matching_pairs"] < 8_400
    assert model.matches_per_record == pytest.approx(model.info["expected_matching_pairs"] / 20_000, rel=1e-3)


def test_a_night_with_no_matches_is_refused() -> None:
    rng = np.random.default_rng(8)
    candidates = pl.concat([
        _draw(rng, 3000, TRUE_U, {"dob": "exact"}).with_columns(pl.lit(1).alias("passes")),
        _draw(rng, 3000, TRUE_U, {"forename": "exact", "surname": "exact"}).with_columns(pl.lit(2).alias("passes")),
    ])
    settings = FitSettings(min_observed=100, prior_strength=0.0)
    with pytest.raises(FitError) as refused:
        fit_model(candidates, _draw(rng, 20_000, TRUE_U, {}), PASSES, 20_000, FSModel.neutral(), settings, {})
    assert any("too few likely matches" in p for p in refused.value.problems)


def test_a_comparison_no_source_fills_keeps_the_starting_model() -> None:
    rng = np.random.default_rng(9)
    candidates, random_levels = _night(rng, matches_per_pass=2000)
    no_nhs = [pl.col("nhs").replace(list(range(2)), [-1, -1]).cast(pl.Int8)]
    start = FSModel.neutral()
    model = fit_model(candidates.with_columns(no_nhs), random_levels.with_columns(no_nhs), PASSES, 20_000, start,
                      FitSettings(min_observed=100, prior_strength=0.0), {})
    assert model.m["nhs"] == start.m["nhs"]
    assert model.u["nhs"] == start.u["nhs"]
    assert model.info["kept_from_start"] == ["nhs"]


def _levels(rng: np.random.Generator, n: int, nhs_missing: float) -> pl.DataFrame:
    frame = _draw(rng, n, TRUE_U, {})
    missing = rng.random(n) < nhs_missing
    return frame.with_columns(pl.when(pl.Series(missing)).then(-1).otherwise(pl.col("nhs")).cast(pl.Int8)
                              .alias("nhs"))


def test_drift_is_flagged_on_a_shifted_night() -> None:
    rng = np.random.default_rng(10)
    decisions = pl.DataFrame({"decision": ["link"] * 40 + ["review"] * 2})
    baseline = night_profile(_levels(rng, 20_000, 0.1), decisions, 100)
    same = night_profile(_levels(rng, 20_000, 0.1), decisions, 100)
    # a source stopped sending NHS numbers: most pairs now miss them
    shifted = night_profile(_levels(rng, 20_000, 0.8), decisions, 100)
    limits = Drift()
    assert measure_drift(baseline, same, limits)["drifted"] == []
    flagged = measure_drift(baseline, shifted, limits)
    assert flagged["drifted"] == ["nhs"]
    assert flagged["retrain_advised"] is True
    assert flagged["psi"]["nhs"] > limits.max_psi
    fewer_links = night_profile(_levels(rng, 20_000, 0.1), decisions.head(20), 100)
    assert measure_drift(baseline, fewer_links, limits)["drifted"] == ["links_per_record"]


def test_no_baseline_is_said() -> None:
    tonight = night_profile(pl.DataFrame({c: pl.Series([0], dtype=pl.Int8) for c in COMPS}),
                            pl.DataFrame({"decision": ["link"]}), 2)
    assert measure_drift(None, tonight, Drift())["baseline"] is False


def test_a_pass_on_name_keys_trains_neither_name_comparison() -> None:
    assert blocked_comparisons(BlockingPass("x", ("dob_s", "name3_any"))) == {"dob", "forename", "surname"}
    assert blocked_comparisons(BlockingPass("y", ("names_ph",), refine=("dob_y",))) == {"forename", "surname"}
    assert blocked_comparisons(BlockingPass("z", ("fn_ph", "pc"), ("sn_ph", "pc"))) == {
        "forename", "surname", "location"}


def test_every_default_blocking_key_names_the_comparison_it_constrains() -> None:
    # a key the calibration did not know would let a pass train a comparison it blocks on
    keys = {k for bp in DEFAULT_PASSES for k in (*bp.keys, *(bp.right or ()))}
    assert keys <= set(KEY_COMPARISON) | NAME_KEYS
