"""Which model scores tonight: the deployment's own, one fitted to tonight's records, or the starting model.

A deployment (an output folder) keeps its models in ``<output>/models`` (:mod:`linkage.models`). A night
with an active model scores with it. A night without one fits one to its own records first
(:mod:`linkage.calibrate`), keeps it as the deployment's model and says so; when that fit fails its sanity
checks the night scores with the starting model and says so loudly (a warning, ``model.origin`` =
``starting_fallback`` in the run summary, the report and the designated professionals' summary).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from linkage.blocking import BlockingStats, passes_from_config
from linkage.calibrate import FitError, FitSettings, fit_model
from linkage.config import LinkageConfig
from linkage.drift import measure_drift
from linkage.model import FSModel
from linkage.models import activate, active, save_versioned
from linkage.prepare import Scored, compare_levels_in_processes

log = logging.getLogger(__name__)


@dataclass
class ModelChoice:
    """The model scoring tonight and where it came from (no person data)."""

    model: FSModel
    origin: str
    path: str
    facts: dict[str, Any] = field(default_factory=dict)
    fitted_tonight: bool = False


def random_pairs(n_records: int, n_pairs: int, seed: int) -> pl.DataFrame:
    """Uniform random distinct record pairs (for u estimation).

    Args:
        n_records: number of records.
        n_pairs: pairs wanted (before removing self-pairs and duplicates).
        seed: random seed.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_records, n_pairs)
    b = rng.integers(0, n_records, n_pairs)
    df = pl.DataFrame({"uid_l": np.minimum(a, b), "uid_r": np.maximum(a, b)})
    return df.filter(pl.col("uid_l") != pl.col("uid_r")).unique().sort("uid_l", "uid_r")


def _random_levels(sc: Scored, config: LinkageConfig, config_dir: Path) -> pl.DataFrame:
    n = sc.records.height
    wanted = int(min(config.training.random_pairs, n * (n - 1) // 2))
    rnd = random_pairs(n, max(wanted, 1), config.training.seed)
    return compare_levels_in_processes(sc.records, rnd, config_dir, config.sharding.local_processes)


def fit_to_night(sc: Scored, start: FSModel, config: LinkageConfig, config_dir: Path,
                 provenance: dict[str, Any]) -> FSModel:
    """Fit a model to one night's standardised records and candidate pairs (:func:`calibrate.fit_model`).

    Args:
        sc: the night's standardised records and compared candidate pairs.
        start: the starting model.
        config: the linkage configuration.
        config_dir: the configuration folder.
        provenance: facts for the model's ``info``.

    Raises:
        FitError: the fit failed its sanity checks.
    """
    if sc.records.height < 2 or sc.pairs.height == 0:
        raise FitError([f"nothing to fit on ({sc.records.height} records, {sc.pairs.height} candidate pairs)"])
    t = config.training
    settings = FitSettings(random_pairs=t.random_pairs, seed=t.seed, min_observed=t.min_observed,
                           min_pass_pairs=t.min_pass_pairs, min_expected_matches=t.min_expected_matches,
                           prior_strength=t.prior_strength, max_iter=t.max_iter, tolerance=t.tolerance)
    return fit_model(sc.pairs, _random_levels(sc, config, config_dir), passes_from_config(config),
                     sc.records.height, start, settings, provenance)


def choose_model(models_dir: Path | None, starting: Path, compared: Callable[[], Scored], config: LinkageConfig,
                 config_dir: Path, extract_date: date) -> ModelChoice:
    """The model for tonight (see the module docstring).

    Args:
        models_dir: the deployment's model store (None: always the starting model).
        starting: the starting model file.
        compared: tonight's records and compared candidate pairs, called only when tonight fits a model (comparing
            every pair in one place is what a fit needs; otherwise the scoring shards compare their own pairs).
        config: the linkage configuration.
        config_dir: the configuration folder.
        extract_date: the night.
    """
    found = active(models_dir)
    if found is not None:
        path, pointer = found
        try:
            return ModelChoice(FSModel.load(path), "deployment", str(path), {"how": pointer.get("how", "")})
        except (OSError, ValueError, KeyError) as err:
            # an upgrade changed the comparison levels, or the file went: fit afresh rather than stop the night
            log.warning("linkage: the deployment's model %s cannot be used (%s); fitting a new one tonight",
                        path.name, err)
    start = FSModel.load(starting)
    if models_dir is None or not config.model.fit_on_first_night:
        return ModelChoice(start, "starting", str(starting))
    try:
        fitted = fit_to_night(compared(), start, config, config_dir,
                              {"nights": [extract_date.isoformat()], "how": "fitted on the first night"})
    except FitError as err:
        log.warning("linkage: no model fitted to this deployment's data and tonight's fit was refused (%s): "
                    "scoring with the starting model %s", err, start.version)
        return ModelChoice(start, "starting_fallback", str(starting), {"refused": err.problems})
    return ModelChoice(fitted, "fitted_tonight", "", {"how": "fitted on the first night"}, fitted_tonight=True)


def model_check(choice: ModelChoice, profile: dict[str, Any], blocking: BlockingStats, config: LinkageConfig,
                models_dir: Path | None) -> dict[str, Any]:
    """Tonight's model facts, drift and blocking counts per pass; a model fitted tonight is kept (with
    tonight as its baseline) and made the deployment's active model.

    Args:
        choice: the model scoring tonight.
        profile: tonight's :func:`linkage.drift.night_profile` (or ``profile_of_counts``).
        blocking: tonight's blocking counts.
        config: the linkage configuration.
        models_dir: the deployment's model store.
    """
    model = choice.model
    path = choice.path
    if choice.fitted_tonight and models_dir is not None:
        model.info["baseline"] = profile
        saved = save_versioned(model, models_dir)
        activate(models_dir, saved, "fitted on the first night")
        path = str(saved)
    # drift is measured against the night the deployment's own model was fitted on, not a starting model's
    own = choice.origin in ("deployment", "fitted_tonight")
    drift = measure_drift(model.info.get("baseline") if own else None, profile, config.drift)
    facts = {"version": model.version, "origin": choice.origin, "path": path, **choice.facts,
             "fitted_on": model.info.get("nights", []), "fit_seconds": model.info.get("fit_seconds"),
             "link_threshold": model.link_threshold, "review_threshold": model.review_threshold}
    if drift["retrain_advised"]:
        log.warning("linkage: drift from the model's data on %s; %s", ",".join(drift["drifted"]), drift["advice"])
    return {"model": facts, "drift": drift, "blocking": blocking.by_pass()}


def write_model_check(night_dir: Path, check: dict[str, Any]) -> Path:
    """Write ``linkage/model_check.json`` (the report and the designated summary read it).

    Args:
        night_dir: the night's folder.
        check: from :func:`model_check`.
    """
    path = Path(night_dir) / "linkage" / "model_check.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(check, indent=2, default=str) + "\n", encoding="utf-8")
    return path
