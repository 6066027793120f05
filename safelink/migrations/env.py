"""Alembic environment for the state database (run programmatically by ``safelink.state.open_state``)."""

from __future__ import annotations

from alembic import context

from safelink.state import Base, import_all_models

import_all_models()
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations on the connection handed over by ``open_state`` (or one made from the URL)."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
        with engine.connect() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
