"""The state database schema comes from Alembic migrations, and they agree with the table models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from safelink.state import Base, alembic_config, import_all_models, open_state


def test_migrations_create_every_table_and_match_the_models(state_url: str) -> None:
    engine = open_state(state_url)
    import_all_models()
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models changed without a migration: {diff}"
    engine.dispose()


def test_opening_twice_is_a_no_op(state_url: str) -> None:
    open_state(state_url).dispose()
    engine = open_state(state_url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [ScriptDirectory.from_config(alembic_config(state_url)).get_current_head()]
    engine.dispose()
