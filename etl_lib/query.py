"""Reading results back from the target: one helper shared by notebooks, tests and users."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, select

from .db import engine_for
from .settings import Settings, get_settings
from .target_schema import signal, target_data


def _as_utc(value: dt.date | dt.datetime | str) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def read_signals(
    names: list[str] | None,
    start: dt.date | dt.datetime | str,
    end: dt.date | dt.datetime | str,
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    wide: bool = True,
) -> pd.DataFrame:
    """Values of the named signals (all when ``names`` is None) over ``[start, end)``.

    Wide: one row per timestamp, one column per signal. Long (``wide=False``):
    ``timestamp, signal, value`` rows.
    """
    engine = engine or engine_for((settings or get_settings()).target_url)
    query = (
        select(target_data.c.timestamp, signal.c.name.label("signal"), target_data.c.value)
        .join(signal, signal.c.id == target_data.c.signal_id)
        .where(target_data.c.timestamp >= _as_utc(start), target_data.c.timestamp < _as_utc(end))
        .order_by(signal.c.name, target_data.c.timestamp)
    )
    if names is not None:
        query = query.where(signal.c.name.in_(names))
    with engine.connect() as conn:
        long = pd.DataFrame(conn.execute(query).all(), columns=["timestamp", "signal", "value"])
    long["timestamp"] = pd.to_datetime(long["timestamp"], utc=True)
    if not wide:
        return long
    table = long.pivot(index="timestamp", columns="signal", values="value")
    table.columns.name = None
    return table
