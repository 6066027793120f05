"""A model fitted before a comparison level existed still loads: the new level weighs nothing until a fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from linkage.compare import LEVELS
from linkage.model import FSModel


def _without_last_forename_level(doc: dict) -> dict:
    spec = doc["comparisons"]["forename"]
    for key in ("levels", "m", "u", "u_random", "weights"):
        spec[key] = spec[key][:-1]
    for key in ("m", "u", "u_random"):  # as the older model was fitted: each sums to one
        spec[key] = [p / sum(spec[key]) for p in spec[key]]
    return doc


def test_an_older_model_gains_the_new_level_at_no_weight(tmp_path: Path) -> None:
    model = FSModel.neutral()
    old = _without_last_forename_level(model.to_json(exact=True))
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    loaded = FSModel.load(path)
    weights = loaded.weights("forename")
    assert len(weights) == len(LEVELS["forename"])
    assert weights[-1] == pytest.approx(0.0, abs=1e-9)
    # every level the model knew weighs what it weighed
    np.testing.assert_allclose(weights[:-1], FSModel.neutral().weights("forename")[:-1]
                               - np.log2(sum(model.m["forename"][:-1]) / sum(model.u["forename"][:-1])), atol=1e-4)
    assert loaded.weights("surname").tolist() == pytest.approx(model.weights("surname").tolist())


def test_a_model_whose_levels_differ_otherwise_is_refused(tmp_path: Path) -> None:
    doc = FSModel.neutral().to_json()
    doc["comparisons"]["dob"]["levels"] = list(reversed(doc["comparisons"]["dob"]["levels"]))
    path = tmp_path / "other.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match="'dob' do not match this code: retrain the model"):
        FSModel.load(path)


def test_alternatives_to_exact_never_outweigh_it() -> None:
    model = FSModel.neutral()
    levels = LEVELS["forename"]
    m, u = [0.01] * len(levels), [0.1] * len(levels)
    m[levels.index("exact")], u[levels.index("exact")] = 0.8, 0.01
    m[levels.index("swapped")], u[levels.index("swapped")] = 0.05, 0.01
    m[levels.index("crossed")], u[levels.index("crossed")] = 0.05, 1e-6
    model.m["forename"], model.u["forename"] = m, u
    w = model.weights("forename")
    assert w[levels.index("crossed")] == pytest.approx(w[levels.index("exact")])
    assert w[levels.index("swapped")] < w[levels.index("exact")]
