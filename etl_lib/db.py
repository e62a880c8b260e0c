"""SQLAlchemy engines, one per URL per process, and COPY through the same connection."""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
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
            "Check SOURCE_DATABASE_URL, TARGET_DATABASE_URL and API_DATABASE_URL (`etl doctor` names the one): "
            "use the form postgresql+psycopg2://user:password@host:5432/database.",
        ) from None


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def _timestamps_as_text(column: pd.Series) -> np.ndarray:
    """ISO-8601 with microseconds (``+00:00`` when zoned; NaT as NULL), formatted by NumPy in one
    call: pandas' per-value strftime was most of the time of a day's load."""
    zoned = isinstance(column.dtype, pd.DatetimeTZDtype)
    values = (column.dt.tz_convert("UTC").dt.tz_localize(None) if zoned else column).to_numpy("datetime64[us]")
    text = np.datetime_as_string(values, unit="us")
    if zoned:
        text = np.char.add(text, "+00:00")
    text = text.astype(object)
    text[np.isnat(values)] = None
    return text


def copy_frame(conn: Connection, table: str, frame: pd.DataFrame) -> int:
    """COPY a frame into ``table`` inside the connection's open transaction.

    Floats are written with Python's shortest round-trip repr, so values arrive bit for bit.
    """
    dates = [name for name, dtype in frame.dtypes.items() if dtype.kind == "M"]
    if dates:
        frame = frame.assign(**{name: _timestamps_as_text(frame[name]) for name in dates})
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    columns = ", ".join(f'"{name}"' for name in frame.columns)
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(f'COPY "{table}" ({columns}) FROM STDIN WITH (FORMAT csv)', buffer)
    finally:
        cursor.close()
    return len(frame)
