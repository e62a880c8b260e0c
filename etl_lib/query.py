"""Reading results back from the target: one helper shared by notebooks, tests and users.

Reads of the 10-minute signals belong here, so notebooks carry no SQL of their own.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, and_, func, select

from .db import engine_for
from .errors import QueryError
from .settings import Settings, get_settings
from .target_schema import signal, target_data
from .transform import BUCKET


def _as_utc(value: dt.date | dt.datetime | str) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def time_range(start: dt.date | dt.datetime | str, end: dt.date | dt.datetime | str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` as UTC timestamps (naive values are UTC); a malformed or empty range is an error."""
    bounds = []
    for name, value in (("start", start), ("end", end)):
        try:
            if isinstance(value, (int, float)):  # papermill's -p start 20241001 arrives as a number
                raise TypeError(value)
            bounds.append(_as_utc(value))
            if pd.isna(bounds[-1]):
                raise ValueError(value)
        except (ValueError, TypeError):
            raise QueryError(
                f"{name} = {value!r} is not a date or an instant.",
                f"Give {name} as a UTC date like 2024-10-01 or an ISO instant like 2024-10-01T06:00 "
                f"(with papermill: -p {name} 2024-10-01; 20241001 would arrive as a number).",
            ) from None
    if bounds[0] >= bounds[1]:
        raise QueryError(
            f"The range [{bounds[0]}, {bounds[1]}) is empty: end must come after start (the end is excluded).",
            "Set end to the day after the last day you want, e.g. start 2024-10-01, end 2024-10-02 for one day.",
        )
    return bounds[0], bounds[1]


def _engine(settings: Settings | None, engine: Engine | None) -> Engine:
    return engine or engine_for((settings or get_settings()).target_url)


def available_signals(settings: Settings | None = None, *, engine: Engine | None = None) -> list[str]:
    """The names of every signal the target defines, sorted."""
    with _engine(settings, engine).connect() as conn:
        return list(conn.execute(select(signal.c.name).order_by(signal.c.name)).scalars())


def check_signals(names: list[str] | str, settings: Settings | None = None, *, engine: Engine | None = None) -> list[str]:
    """``names`` as a list if the target defines them all; otherwise an error listing the valid ones.
    One name alone (papermill's ``-p signals power_mean``) is a list of one."""
    names = [names] if isinstance(names, str) else list(names)
    known = available_signals(settings, engine=engine)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise QueryError(
            f"The target has no signal(s) {', '.join(map(repr, unknown))}.",
            f"Pick from: {', '.join(known) or '(none: run `etl init` and the ETL first)'}.",
        )
    return names


def signal_coverage(
    start: dt.date | dt.datetime | str,
    end: dt.date | dt.datetime | str,
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Per signal the target defines, its values over ``[start, end)``: one row per signal with
    ``rows``, ``expected`` (10-minute buckets in the range), ``coverage`` (rows / expected, 0 to 1),
    and the ``first`` and ``last`` timestamps (NaT when it has none)."""
    first, last = time_range(start, end)
    in_range = and_(
        target_data.c.signal_id == signal.c.id, target_data.c.timestamp >= first, target_data.c.timestamp < last
    )
    query = (
        select(
            signal.c.name,
            func.count(target_data.c.timestamp),
            func.min(target_data.c.timestamp),
            func.max(target_data.c.timestamp),
        )
        .select_from(signal.outerjoin(target_data, in_range))
        .group_by(signal.c.name)
        .order_by(signal.c.name)
    )
    with _engine(settings, engine).connect() as conn:
        rows = conn.execute(query).all()
    table = pd.DataFrame(rows, columns=["signal", "rows", "first", "last"]).set_index("signal")
    expected = len(pd.date_range(first.ceil(BUCKET), last, freq=BUCKET, inclusive="left"))  # starts in range
    table.insert(1, "expected", expected)
    table.insert(2, "coverage", table["rows"] / expected if expected else float("nan"))
    for column in ("first", "last"):
        table[column] = pd.to_datetime(table[column], utc=True)
    table.attrs.update(start=first, end=last)
    return table


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
    engine = _engine(settings, engine)
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
