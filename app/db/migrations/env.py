"""Alembic environment: always handed a live connection by app.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from app.db.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations with `python -m app migrate`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
