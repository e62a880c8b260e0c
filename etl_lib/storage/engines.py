"""SQLAlchemy engines, cached here (one per URL per process)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import ArgumentError

from ..core.errors import ConfigurationError


@lru_cache(maxsize=16)
def engine_for(url: str) -> Engine:
    try:
        return create_engine(url, pool_pre_ping=True)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"Database URL {redact(url)!r} is not a valid SQLAlchemy URL ({exc}).",
            "Check SOURCE_DATABASE_URL, TARGET_DATABASE_URL and API_DATABASE_URL (`etl doctor` names the one): "
            "use the form postgresql+psycopg2://user:password@host:5432/database.",
            setting="SOURCE_DATABASE_URL / TARGET_DATABASE_URL / API_DATABASE_URL",
        ) from None


def dispose(*urls: str) -> None:
    """Close the pooled connections of the cached engines of ``urls`` (e.g. before the server stops)."""
    for url in urls:
        engine_for(url).dispose()


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"
