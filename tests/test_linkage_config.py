"""linkage.yaml is validated on load: errors name the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ground.config import ConfigError
from linkage.config import load_linkage_config
from tests.helpers.sample import CONFIG_DIR


def test_shipped_config_loads_with_its_blocking_passes() -> None:
    config = load_linkage_config(CONFIG_DIR)
    shipped = yaml.safe_load((CONFIG_DIR / "linkage.yaml").read_text())
    assert [p["name"] for p in config["blocking"]["passes"]] == [p["name"] for p in shipped["blocking"]["passes"]]
    assert config["mentions"]["min_confidence"] == shipped["mentions"]["min_confidence"]


def test_absent_file_gives_defaults(tmp_path: Path) -> None:
    config = load_linkage_config(tmp_path)
    assert config["guards"]["pair_guards"] == ["twins", "namesake", "nhs_conflict"]
    assert "passes" not in config["blocking"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"guards": {"pair_guards": ["twins", "cousins"]}}, r"guards.pair_guards.1: Input should be 'twins'"),
        ({"mentions": {"min_confidence": 2}}, r"mentions.min_confidence: Input should be less than or equal to 1"),
        ({"blocking": {"passes": [{"name": "x", "keys": []}]}}, r"blocking.passes.0.keys: List should have at least"),
        ({"dedupe_within_sources": ["school"]}, r"dedupe_within_sources.0: Input should be 'hv'"),
        ({"thresholds": {"link": 0.9, "lnk": 0.5}}, r"thresholds.lnk: Extra inputs are not permitted"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, patch: dict, message: str) -> None:  # type: ignore[type-arg]
    (tmp_path / "linkage.yaml").write_text(yaml.safe_dump(patch))
    with pytest.raises(ConfigError, match=message) as caught:
        load_linkage_config(tmp_path)
    assert str(tmp_path / "linkage.yaml") in str(caught.value)
