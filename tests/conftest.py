"""Shared fixtures: the sample drop copied into the repository, and the shipped configuration."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ground.sources import SourcesConfig, load_sources

# Kept importable from here for tests written before tests/helpers/ (new tests import tests.helpers.sample).
from tests.helpers.sample import (
    CONFIG_DIR,
    ROOT,
    SAMPLE_DATE,
    SAMPLE_LANDING,
    SAMPLE_TRUTH,
    generated_drop,
    read_review_csv,
    write_review_csv,
)

__all__ = ["CONFIG_DIR", "ROOT", "SAMPLE_DATE", "SAMPLE_LANDING", "SAMPLE_TRUTH", "generated_drop",
           "read_review_csv", "write_review_csv"]


@pytest.fixture(scope="session")
def sources_config() -> SourcesConfig:
    return load_sources(CONFIG_DIR / "sources.yaml")


PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on SQLite and on the real PostgreSQL (a fresh schema per test, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files (tests/golden/) from the current output; review the diff")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when run with ``--update-golden``: golden tests rewrite their files instead of comparing."""
    return bool(request.config.getoption("--update-golden"))
