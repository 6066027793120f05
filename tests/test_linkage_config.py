"""linkage.yaml is validated on load: errors name the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ground.config import ConfigError
from linkage.blocking import DEFAULT_PASSES, BlockingPass, passes_from_config
from linkage.config import load_linkage_config
from tests.helpers.sample import CONFIG_DIR


def test_shipped_config_loads_typed() -> None:
    config = load_linkage_config(CONFIG_DIR)
    shipped = yaml.safe_load((CONFIG_DIR / "linkage.yaml").read_text())
    assert config.mentions.min_confidence == shipped["mentions"]["min_confidence"]
    assert config.model.fit_on_first_night is shipped["model"]["fit_on_first_night"]
    assert passes_from_config(config) == DEFAULT_PASSES  # the shipped file keeps the generic passes


def test_passes_from_the_file_replace_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "linkage.yaml").write_text(yaml.safe_dump(
        {"blocking": {"passes": [{"name": "dob", "keys": ["dob_s"]}, {"name": "sw", "keys": ["fn_ph"],
                                                                      "right": ["sn_ph"]}]}}))
    assert passes_from_config(load_linkage_config(tmp_path)) == (
        BlockingPass("dob", ("dob_s",)), BlockingPass("sw", ("fn_ph",), ("sn_ph",)))


def test_absent_file_gives_defaults(tmp_path: Path) -> None:
    config = load_linkage_config(tmp_path)
    assert config.guards.pair_guards == ["twins", "namesake", "nhs_conflict"]
    assert config.blocking.passes is None


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"guards": {"pair_guards": ["twins", "cousins"]}}, r"guards.pair_guards.1: Input should be 'twins'"),
        ({"mentions": {"min_confidence": 2}}, r"mentions.min_confidence: Input should be less than or equal to 1"),
        ({"blocking": {"passes": [{"name": "x", "keys": []}]}}, r"blocking.passes.0.keys: List should have at least"),
        ({"dedupe_within_sources": ["school"]}, r"dedupe_within_sources.0: 'school' is not a source in sources.yaml"),
        ({"thresholds": {"link": 0.9, "lnk": 0.5}}, r"thresholds.lnk: Extra inputs are not permitted"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, patch: dict, message: str) -> None:  # type: ignore[type-arg]
    (tmp_path / "linkage.yaml").write_text(yaml.safe_dump(patch))
    (tmp_path / "sources.yaml").write_text((CONFIG_DIR / "sources.yaml").read_text())  # the source registry
    with pytest.raises(ConfigError, match=message) as caught:
        load_linkage_config(tmp_path)
    assert str(tmp_path / "linkage.yaml") in str(caught.value)
