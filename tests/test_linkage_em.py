"""EM recovers the m and u of a known Fellegi–Sunter model; model JSON round trip and scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from linkage.compare import COMPARISONS, LEVELS
from linkage.model import FSModel, em_fit, pattern_counts, score


def test_em_recovers_known_parameters() -> None:
    rng = np.random.default_rng(42)
    m_true = [np.array([0.05, 0.15, 0.8]), np.array([0.1, 0.9]), np.array([0.02, 0.08, 0.9]), np.array([0.2, 0.8])]
    u_true = [np.array([0.85, 0.1, 0.05]), np.array([0.7, 0.3]), np.array([0.9, 0.07, 0.03]), np.array([0.6, 0.4])]
    lam, n = 0.25, 200_000
    is_match = rng.random(n) < lam
    cols = {}
    for j, (m, u) in enumerate(zip(m_true, u_true, strict=True)):
        draw_m = rng.choice(len(m), size=n, p=m)
        draw_u = rng.choice(len(u), size=n, p=u)
        col = np.where(is_match, draw_m, draw_u)
        col[rng.random(n) < 0.05] = -1  # 5 % missing, ignorable
        cols[f"c{j}"] = col
    levels = pl.DataFrame(cols)
    patterns, counts = pattern_counts(levels, list(cols))
    m_init = [np.full(len(m), 1 / len(m)) + np.linspace(0, 0.2, len(m)) for m in m_true]
    m_init = [x / x.sum() for x in m_init]
    u_init = [x[::-1].copy() for x in m_init]
    m_hat, u_hat, lam_hat, _ = em_fit(patterns, counts, [len(m) for m in m_true], m_init, u_init, 0.5,
                                      pseudo=0.0, tol=1e-9, max_iter=2000)
    assert lam_hat == pytest.approx(lam, abs=0.01)
    for j in range(len(m_true)):
        np.testing.assert_allclose(m_hat[j], m_true[j], atol=0.015)
        np.testing.assert_allclose(u_hat[j], u_true[j], atol=0.015)


def _toy_model() -> FSModel:
    m = {c: [1.0 / len(LEVELS[c])] * len(LEVELS[c]) for c in COMPARISONS}
    u = {c: [1.0 / len(LEVELS[c])] * len(LEVELS[c]) for c in COMPARISONS}
    m["dob"] = [0.01, 0.01, 0.03, 0.01, 0.94]
    u["dob"] = [0.9, 0.08, 0.01, 0.005, 0.005]
    return FSModel(m=m, u=u, matches_per_record=0.5, link_threshold=0.9, review_threshold=0.5, version="t",
                   tf_enabled=False)


def test_model_json_round_trip(tmp_path: Path) -> None:
    model = _toy_model()
    path = model.save(tmp_path / "m.json")
    back = FSModel.load(path)
    for c in COMPARISONS:
        assert back.m[c] == pytest.approx(model.m[c])
        assert back.u[c] == pytest.approx(model.u[c])
    assert back.matches_per_record == model.matches_per_record
    assert (back.link_threshold, back.review_threshold, back.version) == (0.9, 0.5, "t")


def test_score_missing_contributes_zero() -> None:
    model = _toy_model()
    levels = pl.DataFrame({"uid_l": [0, 0], "uid_r": [1, 2], **{c: [-1, -1] for c in COMPARISONS}},
                          schema_overrides={c: pl.Int8 for c in COMPARISONS})
    levels = levels.with_columns(pl.Series("dob", [4, -1], dtype=pl.Int8))
    recs = pl.DataFrame({"uid": [0, 1, 2], "source": ["gp"] * 3, "fn": ["a", "a", "b"], "sn": ["x", "y", "z"]})
    out = score(levels, recs, model)
    w_dob = np.log2(0.94 / 0.005)
    prior = model.prior_weight(3)
    assert out["w_dob"].to_list() == pytest.approx([w_dob, 0.0])
    assert out["w_forename"].to_list() == pytest.approx([0.0, 0.0])
    assert out["weight"].to_list() == pytest.approx([w_dob + prior, prior])
    p = 1 / (1 + 2 ** -(w_dob + prior))
    assert out["match_probability"].to_list() == pytest.approx([p, 1 / (1 + 2 ** -prior)])
