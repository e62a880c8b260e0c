"""Alembic's environment for the source database: run on the connection ``migrations.upgrade`` hands over."""

from alembic import context

from etl_lib.storage.source import metadata

context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
