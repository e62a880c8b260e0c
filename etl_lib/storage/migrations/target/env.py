"""Alembic's environment for the target database: run on the connection ``migrations.upgrade`` hands over."""

from alembic import context

from etl_lib.storage.target import metadata

context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
