"""SQLAlchemy engines, one per URL per process, and COPY through the same connection."""

from __future__ import annotations

import io
from functools import lru_cache

import pandas as pd
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import ArgumentError

from .errors import ConfigurationError


@lru_cache(maxsize=16)
def engine_for(url: str) -> Engine:
    try:
        return create_engine(url, pool_pre_ping=True)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"Database URL {redact(url)!r} is not a valid SQLAlchemy URL ({exc}).",
            "Use the form postgresql+psycopg2://user:password@host:5432/database.",
        ) from None


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def copy_frame(conn: Connection, table: str, frame: pd.DataFrame) -> int:
    """COPY a frame into ``table`` inside the connection's open transaction.

    Floats are written with Python's shortest round-trip repr, so values arrive bit for bit.
    """
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S%z")
    buffer.seek(0)
    columns = ", ".join(f'"{name}"' for name in frame.columns)
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(f'COPY "{table}" ({columns}) FROM STDIN WITH (FORMAT csv)', buffer)
    finally:
        cursor.close()
    return len(frame)
