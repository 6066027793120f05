"""The run state database: one SQLAlchemy metadata shared by every stage.

Each stage declares its own tables in its own module on :class:`Base`; :func:`open_state`
brings the schema up to date with the Alembic migrations in ``ground/migrations`` and returns an engine.
The migrations are plain DDL: upgrading needs no stage's models. A change to a table means a new
migration (``make migration m="..."``, which loads every stage's tables through ``safelink.schema``);
a test checks they agree.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for every state table."""


def default_state_url(output_dir: Path) -> str:
    """The embedded default: a SQLite file inside the deployment's output folder.

    Args:
        output_dir: the deployment's output folder (one folder, one deployment).
    """
    return f"sqlite:///{(output_dir / 'state.sqlite').resolve()}"


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Any:
    """An Alembic configuration pointing at the project's migrations and ``url``.

    Args:
        url: SQLAlchemy URL of the state database.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


#: SQLite's page cache per connection, KiB (its default is 2 MiB).
SQLITE_CACHE_KIB = 32 * 1024


def open_state(url: str) -> Engine:
    """Open the state database at ``url`` and make sure every table exists.

    Args:
        url: SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
    """
    engine = create_engine(url, future=True)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # a first night writes every record's person (random ids, indexed): SQLite's 2 MB page cache thrashes
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()

    from alembic import command

    config = alembic_config(url)
    with _migration_lock(url), engine.begin() as connection:
        if url.startswith("postgresql"):
            # Two processes upgrading a fresh database at once: the second waits, then finds it at head.
            from ground.run_lock import advisory_key

            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(url, "migrations")})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return engine


def _migration_lock(url: str) -> AbstractContextManager[Any]:
    """A file lock beside a SQLite state file while its schema is brought up to date (else nothing)."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database if url.startswith("sqlite") else None
    if not database or database == ":memory:":
        return nullcontext()
    from filelock import FileLock

    return FileLock(f"{database}.migrate.lock", mode=0o600)
