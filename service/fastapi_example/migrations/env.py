"""Alembic environment: runs on the connection `migrate` hands over (under its lock)."""

from alembic import context
from sqlmodel import SQLModel

from fastapi_example import models  # noqa: F401 - registers the tables

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
