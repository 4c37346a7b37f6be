"""Alembic's environment for the index: the engine comes from pvd.index.db (never a URL
in a file), and migrations run in one transaction."""

from __future__ import annotations

from alembic import context

from pvd.index.schema import metadata

config = context.config
engine = config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
