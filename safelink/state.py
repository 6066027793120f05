"""The run state database: one SQLAlchemy metadata shared by every stage.

Each stage declares its own tables in its own module on :class:`Base`; :func:`open_state`
brings the schema up to date (Alembic migrations in ``safelink/migrations``) and returns an engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for every state table."""


def default_state_url(output_dir: Path) -> str:
    """The embedded default: a SQLite file inside the deployment's output folder.

    Args:
        output_dir: the deployment's output folder (one folder, one deployment).
    """
    return f"sqlite:///{(output_dir / 'state.sqlite').resolve()}"


def _import_all_models() -> None:
    # Importing the modules registers their tables on Base.metadata.
    import contextlib
    import importlib

    for module in (
        "linkage.state_tables", "alerts.rules.state_tables", "alerts.state_tables", "report.state_tables"
    ):
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(module)


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
            cursor.close()

    _import_all_models()
    Base.metadata.create_all(engine)
    return engine
