"""Schema migrations (Alembic, SQLAlchemy's own migration tool), one environment per database.

``upgrade(engine, "source" | "target")`` brings a database to the current schema in one
transaction under an advisory lock, so concurrent first runs take turns instead of racing to
create tables. A database made before the migrations existed (the single-turbine schema, without
an ``alembic_version`` table) is recognised, stamped as revision 0001 and upgraded in place,
keeping its rows. A database at a revision this code does not know (a newer version migrated it)
is refused before anything runs (``SchemaVersionError``, with the revision found and what to do).
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, Engine, func, inspect, select, text

from ...core.errors import SchemaVersionError

Database = Literal["source", "target"]
HERE = Path(__file__).resolve().parent
BASELINE = "0001"
# The newest revision of each database (tests/unit/test_migrations.py checks it against Alembic's scripts):
# a database already there needs no Alembic at all, which keeps it out of every run's start-up.
HEAD = {"source": "0008", "target": "0008"}
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


def known_revisions(database: Database) -> list[str]:
    """The revisions this code has scripts for, oldest first (``0002_farm.py`` is revision ``0002``)."""
    return sorted(path.name.split("_", 1)[0] for path in (HERE / database / "versions").glob("[0-9]*_*.py"))


def revision_of(conn: Connection) -> str | None:
    """The database's revision as ``alembic_version`` records it (None: no such table, or no row)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def refuse_unknown(found: str | None, database: Database) -> None:
    """``SchemaVersionError`` for a revision this code does not know (a newer version's)."""
    if found is not None and found not in known_revisions(database):
        raise SchemaVersionError(database, found, HEAD[database])


def at_head(engine: Engine, database: Database) -> bool:
    """Whether the database is at the newest revision already (one query; no Alembic); a revision this
    code does not know is refused (``SchemaVersionError``)."""
    with engine.connect() as conn:
        found = revision_of(conn)
    if found == HEAD[database]:
        return True
    refuse_unknown(found, database)
    return False


def upgrade(engine: Engine, database: Database, revision: str = "head") -> None:
    """Migrate ``database`` to ``revision`` (default: the newest) in one transaction; a database at the
    newest revision already is left alone without importing Alembic."""
    if revision == "head" and at_head(engine, database):
        return
    from alembic import command

    with engine.begin() as conn:
        conn.execute(select(func.pg_advisory_xact_lock(lock_key(database))))
        refuse_unknown(revision_of(conn), database)  # another process may have migrated it meanwhile
        inspector = inspect(conn)
        if not inspector.has_table("alembic_version") and inspector.has_table(_BASELINE_TABLE[database]):
            command.stamp(_config(database, conn), BASELINE)
        command.upgrade(_config(database, conn), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
