"""Alembic's entry point for the record's migrations (qa/record.py runs them on open)."""

from alembic import context

from qa.record import METADATA

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
