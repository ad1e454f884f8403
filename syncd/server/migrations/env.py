"""Alembic's entry point: always run on the connection ``db.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from syncd.server.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
)
with context.begin_transaction():
    context.run_migrations()
