"""Alembic environment for the state database (run programmatically by ``ground.state.open_state``).

Upgrading runs the plain-DDL revisions and needs no models. Autogenerating a revision (``make migration``)
passes every stage's tables as ``config.attributes["target_metadata"]`` (``safelink.schema.all_tables``).
"""

from __future__ import annotations

from alembic import context

target_metadata = context.config.attributes.get("target_metadata")


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
