"""Shared fixtures: the sample drop copied into the repository, and the shipped configuration."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from landing.config import SourcesConfig, load_sources

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_LANDING = ROOT / "tests" / "fixtures" / "sample"
SAMPLE_TRUTH = SAMPLE_LANDING / "truth"
SAMPLE_DATE = dt.date(2026, 11, 25)
CONFIG_DIR = ROOT / "config"


def read_review_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a review file (``review_pairs.csv`` or a marked copy)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_review_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write marked review rows (columns as in the first row), as a reviewer's spreadsheet would."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def generated_drop(base: Path, extract_date: dt.date, households: int, seed: int) -> Path:
    """A generated county's drop under ``base``; returns its landing root.

    Args:
        base: a temporary folder.
        extract_date: the night.
        households: the county's size.
        seed: the generator's seed.
    """
    from safelink.synth import generate_county

    generate_county(base / "county", extract_date, households, seed)
    return base / "county" / "landing"


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
