"""Shared fixtures: the sample drop copied into the repository, and the shipped configuration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from landing.config import SourcesConfig, load_sources

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_LANDING = ROOT / "tests" / "fixtures" / "sample"
SAMPLE_TRUTH = SAMPLE_LANDING / "truth"
SAMPLE_DATE = dt.date(2026, 11, 25)
CONFIG_DIR = ROOT / "config"


@pytest.fixture(scope="session")
def sources_config() -> SourcesConfig:
    return load_sources(CONFIG_DIR / "sources.yaml")
