"""Schema migrations (Alembic, SQLAlchemy's own migration tool), one environment per database.

``upgrade(engine, "source" | "target")`` brings a database to the current schema in one
transaction under an advisory lock, so concurrent first runs take turns instead of racing to
create tables. A database made before the migrations existed (the single-turbine schema, without
an ``alembic_version`` table) is recognised, stamped as revision 0001 and upgraded in place,
keeping its rows.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, Engine, func, inspect, select, text

Database = Literal["source", "target"]
HERE = Path(__file__).resolve().parent
BASELINE = "0001"
# The newest revision of each database (tests/unit/test_migrations.py checks it against Alembic's scripts):
# a database already there needs no Alembic at all, which keeps it out of every run's start-up.
HEAD = {"source": "0003", "target": "0004"}
# The table whose presence, without alembic_version, means "the schema of revision 0001".
_BASELINE_TABLE = {"source": "data", "target": "signal"}


def _config(database: Database, connection: Connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE / database))
    config.attributes["connection"] = connection
    return config


def lock_key(database: Database) -> int:
    return zlib.crc32(f"wind-etl:schema:{database}".encode())


def at_head(engine: Engine, database: Database) -> bool:
    """Whether the database is at the newest revision already (one query; no Alembic)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD[database]


def upgrade(engine: Engine, database: Database, revision: str = "head") -> None:
    """Migrate ``database`` to ``revision`` (default: the newest) in one transaction; a database at the
    newest revision already is left alone without importing Alembic."""
    if revision == "head" and at_head(engine, database):
        return
    from alembic import command

    with engine.begin() as conn:
        conn.execute(select(func.pg_advisory_xact_lock(lock_key(database))))
        inspector = inspect(conn)
        if not inspector.has_table("alembic_version") and inspector.has_table(_BASELINE_TABLE[database]):
            command.stamp(_config(database, conn), BASELINE)
        command.upgrade(_config(database, conn), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
