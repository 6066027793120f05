"""A deployment's first night fits its own model; later nights use it; a refused fit falls back loudly;
`safelink train` writes a versioned model with its provenance; likely duplicates within a source go to review."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from ground.sources import SourcesConfig
from landing.ingest import ingest_drop
from linkage import link_night
from linkage.compare import LEVELS
from linkage.config import LinkageConfig
from linkage.model import FSModel
from linkage.pipeline import cluster_scored
from safelink.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "sample"
CONFIG = ROOT / "config"
DATE = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, sources_config: SourcesConfig) -> Path:
    night = tmp_path_factory.mktemp("first_night") / DATE.isoformat()
    ingest_drop(SAMPLE, DATE, sources_config, night)
    return night


def _copy_night(ingested: Path, output: Path) -> Path:
    night = output / DATE.isoformat()
    shutil.copytree(ingested / "landing", night / "landing")
    return night


def test_first_night_fits_a_model_and_later_nights_use_it(ingested: Path, tmp_path: Path) -> None:
    night = _copy_night(ingested, tmp_path)
    state, models = f"sqlite:///{tmp_path / 'state.sqlite'}", tmp_path / "models"
    first = link_night(night, CONFIG / "linkage_model.json", state, DATE, CONFIG, models_dir=models)
    assert first.model["origin"] == "fitted_tonight"
    active = json.loads((models / "active.json").read_text())
    fitted = FSModel.load(Path(active["model"]))
    assert fitted.version == first.model_version != FSModel.load(CONFIG / "linkage_model.json").version
    assert fitted.info["nights"] == [DATE.isoformat()] and fitted.info["baseline"]["records"] == first.records
    check = json.loads((night / "linkage" / "model_check.json").read_text())
    assert check["model"]["origin"] == "fitted_tonight" and check["drift"]["drifted"] == []
    assert check["blocking"] == first.blocking_by_pass and sum(p["pairs"] for p in check["blocking"].values()) > 0
    again = link_night(night, CONFIG / "linkage_model.json", state, DATE, CONFIG, models_dir=models)
    assert again.model["origin"] == "deployment"
    assert again.model_version == first.model_version
    assert len(list(models.glob("linkage_model_*.json"))) == 1


def test_a_refused_fit_scores_with_the_starting_model_and_says_so(
        ingested: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    (config / "linkage.yaml").write_text((CONFIG / "linkage.yaml").read_text().replace(
        "min_expected_matches: 20", "min_expected_matches: 1000000"))
    night = _copy_night(ingested, tmp_path)
    with caplog.at_level(logging.WARNING, logger="linkage"):
        result = link_night(night, config / "linkage_model.json", f"sqlite:///{tmp_path / 's.sqlite'}", DATE,
                            config, models_dir=tmp_path / "models")
    assert result.model["origin"] == "starting_fallback"
    assert any("too few likely matches" in p for p in result.model["refused"])
    assert result.model_version == FSModel.load(config / "linkage_model.json").version
    assert not (tmp_path / "models" / "active.json").exists()
    assert any("scoring with the starting model" in r.getMessage() for r in caplog.records)


def test_safelink_train_writes_a_versioned_model_with_provenance(ingested: Path, tmp_path: Path) -> None:
    night = _copy_night(ingested, tmp_path / "out")
    result = CliRunner().invoke(app, ["train", "--night", str(night), "--activate"])
    assert result.exit_code == 0, result.output
    written = list((tmp_path / "out" / "models").glob("linkage_model_*.json"))
    assert len(written) == 1
    doc = json.loads(written[0].read_text())
    assert doc["version"] in written[0].name
    assert doc["info"]["nights"] == [DATE.isoformat()] and doc["info"]["how"] == "safelink train"
    assert doc["info"]["passes"] and all("converged" in p for p in doc["info"]["passes"])
    assert json.loads((tmp_path / "out" / "models" / "active.json").read_text())["model"] == str(written[0])


def _two_gp_records_and_one_hv() -> tuple[pl.DataFrame, pl.DataFrame]:
    std = pl.DataFrame({
        "uid": [0, 1, 2], "source": ["gp", "gp", "hv"], "record_id": ["1", "2", "3"],
        "dob": [dt.date(2020, 1, 1)] * 3, "dob_y": [2020] * 3, "nhs": [None, None, None],
        "nhs_verified": [False] * 3, "sn": ["lee"] * 3, "dob_s": ["01012020"] * 3, "fn_key": ["amy"] * 3,
    }, schema_overrides={"nhs": pl.Utf8, "dob_y": pl.Int32})
    exact = {c: LEVELS[c].index(v) for c, v in (("forename", "exact"), ("surname", "exact"), ("dob", "exact"),
                                                ("location", "postcode_and_address"))}
    scored = pl.DataFrame({
        "uid_l": [0, 0], "uid_r": [1, 2], "same_source": [True, False], **{c: [v, v] for c, v in exact.items()},
        "w_forename": [7.0, 7.0], "weight": [30.0, 29.0], "match_probability": [0.999, 0.998],
    }, schema_overrides={c: pl.Int8 for c in exact})
    return std, scored


def test_a_likely_duplicate_within_a_source_goes_to_review() -> None:
    std, scored = _two_gp_records_and_one_hv()
    _, kept, guards = cluster_scored(std, scored, FSModel.neutral(), LinkageConfig())
    assert kept.select("uid_l", "uid_r", "decision", "guard").to_dicts() == [
        {"uid_l": 0, "uid_r": 1, "decision": "review", "guard": "same_source"},
        {"uid_l": 0, "uid_r": 2, "decision": "link", "guard": None},
    ]
    assert guards["same_source"] == 1


def test_a_source_allowed_duplicates_links_them() -> None:
    std, scored = _two_gp_records_and_one_hv()
    records, kept, _ = cluster_scored(std, scored, FSModel.neutral(), LinkageConfig(dedupe_within_sources=["gp"]))
    assert kept["decision"].to_list() == ["link", "link"]
    assert records["cluster"].n_unique() == 1


def test_an_unreadable_deployment_model_is_refitted(ingested: Path, tmp_path: Path) -> None:
    # an upgrade that changes the comparison levels must not stop the night: the old model is replaced
    night = _copy_night(ingested, tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    old = models / "linkage_model_old.json"
    doc = json.loads((CONFIG / "linkage_model.json").read_text())
    doc["comparisons"]["dob"]["levels"] = ["different", "exact"]
    old.write_text(json.dumps(doc))
    (models / "active.json").write_text(json.dumps({"model": str(old), "version": "old", "how": "test"}))
    result = link_night(night, CONFIG / "linkage_model.json", f"sqlite:///{tmp_path / 's.sqlite'}", DATE, CONFIG,
                        models_dir=models)
    assert result.model["origin"] == "fitted_tonight"
    assert json.loads((models / "active.json").read_text())["model"] != str(old)
