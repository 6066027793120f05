"""The state database schema comes from Alembic migrations, and they agree with the table models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from ground.state import alembic_config, open_state
from safelink.schema import all_tables


def test_migrations_create_every_table_and_match_the_models(state_url: str) -> None:
    engine = open_state(state_url)
    metadata = all_tables()
    assert {"review_decisions", "rules_finding", "alerts_message", "report_nightly_metrics"} <= set(metadata.tables)
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"models changed without a migration: {diff}"
    engine.dispose()


def test_opening_twice_is_a_no_op(state_url: str) -> None:
    open_state(state_url).dispose()
    engine = open_state(state_url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [ScriptDirectory.from_config(alembic_config(state_url)).get_current_head()]
    engine.dispose()


def test_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several Alembic heads: {heads} (re-point a down_revision at main's head)"


def test_a_sqlite_state_gets_its_write_ahead_log_and_a_page_cache_for_a_first_nights_writes(tmp_path: Path) -> None:
    from ground.state import SQLITE_CACHE_KIB

    engine = open_state(f"sqlite:///{tmp_path / 'state.sqlite'}")
    with engine.connect() as conn:
        pragmas = [conn.execute(text(f"PRAGMA {p}")).scalar() for p in ("journal_mode", "foreign_keys", "cache_size")]
    engine.dispose()
    assert pragmas == ["wal", 1, -SQLITE_CACHE_KIB]
