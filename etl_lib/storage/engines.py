"""SQLAlchemy engines, cached here (one per URL and session limits per process).

The target's sessions are bounded in time (``target_engine``): how long a statement may wait for a
lock (``lock_timeout``), run (``statement_timeout``), and a transaction may sit idle
(``idle_in_transaction_session_timeout``), as the settings say. Set when each connection opens
(libpq's ``options``), whoever uses it: a run, a report, a notebook, Dagster. So a run stopped inside
its transaction (a suspended or hung process) cannot hold the day's lock, or block other runs,
for longer than these.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..config.settings import Settings
from ..core.errors import ConfigurationError

APPLICATION_NAME = "wind-etl"  # how the project's sessions show in pg_stat_activity


@dataclass(frozen=True)
class SessionLimits:
    """The time limits of every session of an engine, in milliseconds (0: none, PostgreSQL's default)."""

    lock_timeout_ms: int
    statement_timeout_ms: int
    idle_in_transaction_ms: int

    @classmethod
    def of_target(cls, settings: Settings) -> SessionLimits:
        return cls(
            round(settings.target_lock_timeout_s * 1000),
            round(settings.target_statement_timeout_s * 1000),
            round(settings.target_idle_in_transaction_timeout_s * 1000),
        )

    def options(self) -> str:
        return (
            f"-c lock_timeout={self.lock_timeout_ms} -c statement_timeout={self.statement_timeout_ms} "
            f"-c idle_in_transaction_session_timeout={self.idle_in_transaction_ms}"
        )


_engines: dict[tuple[str, SessionLimits | None], Engine] = {}
_making = threading.Lock()


def engine_for(url: str, limits: SessionLimits | None = None) -> Engine:
    """The engine of ``url`` (its sessions bounded by ``limits``, when given), made once per process."""
    key = (url, limits)
    with _making:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _create(url, limits)
    return engine


def target_engine(settings: Settings) -> Engine:
    """The engine of the target, its sessions bounded by the settings' time limits."""
    return engine_for(settings.target_url, SessionLimits.of_target(settings))


def _create(url: str, limits: SessionLimits | None) -> Engine:
    try:
        connect_args: dict = {}
        if limits is not None:
            given = make_url(url).query.get("options")  # the URL's own options come first, ours after
            given = " ".join(given) if isinstance(given, tuple) else given
            connect_args = {
                "options": f"{given} {limits.options()}" if given else limits.options(),
                "application_name": APPLICATION_NAME,
            }
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"Database URL {redact(url)!r} is not a valid SQLAlchemy URL ({exc}).",
            "Check SOURCE_DATABASE_URL, TARGET_DATABASE_URL and API_DATABASE_URL (`etl doctor` names the one): "
            "use the form postgresql+psycopg2://user:password@host:5432/database.",
            setting="SOURCE_DATABASE_URL / TARGET_DATABASE_URL / API_DATABASE_URL",
        ) from None


def dispose(*urls: str) -> None:
    """Close the pooled connections of the cached engines of ``urls`` (e.g. before the server stops)."""
    for (url, _), engine in list(_engines.items()):
        if url in urls:
            engine.dispose()


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"
