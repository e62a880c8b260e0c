"""Reading results back from the target: one helper shared by notebooks, tests and users.

Reads of the 10-minute signals belong here, so notebooks carry no SQL of their own.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, Float, Numeric, and_, cast, func, select

from ..config.settings import Settings, get_settings
from ..core.contract import BUCKET
from ..core.errors import QueryError
from ..core.turbines import TurbineModel
from .engines import target_engine
from .fleet import model_from_row
from .target import farm, signal, target_data, turbine, turbine_day_kpi, turbine_model


def _as_utc(value: dt.date | dt.datetime | str) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def time_range(
    start: dt.date | dt.datetime | str, end: dt.date | dt.datetime | str
) -> tuple[pd.Timestamp, pd.Timestamp]:
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
    return engine or target_engine(settings or get_settings())


def available_signals(settings: Settings | None = None, *, engine: Engine | None = None) -> list[str]:
    """The names of the signals the target defines (for any turbine), sorted."""
    with _engine(settings, engine).connect() as conn:
        return list(conn.execute(select(signal.c.name).distinct().order_by(signal.c.name)).scalars())


def available_turbines(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    retired: bool = False,
    farm_name: str | None = None,
) -> list[str]:
    """The names of the turbines of the current fleet (the source's, as the last runs found it; of the farm
    ``farm_name``, when given), sorted; with ``retired`` also those that left the source
    (``turbine.retired_at``) and whose rows the target keeps for the days before."""
    query = select(turbine.c.name).order_by(turbine.c.name)
    if not retired:
        query = query.where(turbine.c.retired_at.is_(None))
    if farm_name is not None:
        query = query.where(turbine.c.farm_id.in_(select(farm.c.id).where(farm.c.name == farm_name)))
    with _engine(settings, engine).connect() as conn:
        return list(conn.execute(query).scalars())


def available_farms(settings: Settings | None = None, *, engine: Engine | None = None) -> list[str]:
    """The names of the farms the target knows, sorted."""
    with _engine(settings, engine).connect() as conn:
        return list(conn.execute(select(farm.c.name).order_by(farm.c.name)).scalars())


def check_farms(names: list[str] | str, settings: Settings | None = None, *, engine: Engine | None = None) -> list[str]:
    """``names`` as a list if the target knows them all; otherwise an error listing the farms it knows."""
    return _known(_as_list(names), available_farms(settings, engine=engine), "farm")


def retired_turbines(settings: Settings | None = None, *, engine: Engine | None = None) -> dict[str, dt.datetime]:
    """The turbines that left the source, with when a run found them gone, by name."""
    query = (
        select(turbine.c.name, turbine.c.retired_at).where(turbine.c.retired_at.is_not(None)).order_by(turbine.c.name)
    )
    with _engine(settings, engine).connect() as conn:
        return dict(conn.execute(query).all())


def turbine_models(
    turbines: list[str] | None = None, settings: Settings | None = None, *, engine: Engine | None = None
) -> dict[str, TurbineModel | None]:
    """Each turbine's model (``turbines``, all when None) as the last run recorded it, by turbine name;
    None for a turbine the target holds rows of but was never told the model of."""
    query = (
        select(turbine.c.name.label("turbine"), turbine_model)
        .select_from(turbine.outerjoin(turbine_model, turbine_model.c.name == turbine.c.model))
        .order_by(turbine.c.name)
    )
    if turbines is not None:
        query = query.where(turbine.c.name.in_(turbines))
    with _engine(settings, engine).connect() as conn:
        rows = conn.execute(query).all()
    return {row.turbine: model_from_row(row._mapping) if row.rated_power is not None else None for row in rows}


def _as_list(names: list[str] | str) -> list[str]:
    """One name alone (papermill's ``-p signals power_mean``) is a list of one."""
    return [names] if isinstance(names, str) else list(names)


def _known(names: list[str], known: list[str], what: str) -> list[str]:
    unknown = [name for name in names if name not in known]
    if unknown:
        raise QueryError(
            f"The target has no {what}(s) {', '.join(map(repr, unknown))}.",
            f"Pick from: {', '.join(known) or '(none: run `etl init` and the ETL first)'}.",
        )
    return names


def check_signals(
    names: list[str] | str, settings: Settings | None = None, *, engine: Engine | None = None
) -> list[str]:
    """``names`` as a list if the target defines them all; otherwise an error listing the valid ones."""
    return _known(_as_list(names), available_signals(settings, engine=engine), "signal")


def check_turbines(
    names: list[str] | str, settings: Settings | None = None, *, engine: Engine | None = None
) -> list[str]:
    """``names`` as a list if the target knows them all (retired turbines too: asked for by name, they are
    shown); otherwise an error listing the valid ones."""
    return _known(_as_list(names), available_turbines(settings, engine=engine, retired=True), "turbine")


def signal_coverage(
    start: dt.date | dt.datetime | str,
    end: dt.date | dt.datetime | str,
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    turbines: list[str] | None = None,
) -> pd.DataFrame:
    """Per turbine and signal the target defines, its values over ``[start, end)``: one row per
    ``(turbine, signal)`` with ``rows``, ``expected`` (10-minute buckets in the range), ``coverage``
    (rows / expected, 0 to 1), the ``first`` and ``last`` timestamps (NaT when it has none) and the
    ``mean`` of the values (NaN without any). Counted by the database: nothing of the rows is read."""
    first, last = time_range(start, end)
    in_range = and_(
        target_data.c.signal_id == signal.c.id, target_data.c.timestamp >= first, target_data.c.timestamp < last
    )
    query = (
        select(
            turbine.c.name,
            signal.c.name,
            func.count(target_data.c.timestamp),
            func.min(target_data.c.timestamp),
            func.max(target_data.c.timestamp),
            # Over numeric: float8's avg also sums the squares, which overflows for values near 1e308.
            cast(func.avg(cast(target_data.c.value, Numeric)), Float),
        )
        .select_from(signal.join(turbine, turbine.c.id == signal.c.turbine_id).outerjoin(target_data, in_range))
        .group_by(turbine.c.name, signal.c.name)
        .order_by(turbine.c.name, signal.c.name)
    )
    if turbines is not None:
        query = query.where(turbine.c.name.in_(turbines))
    with _engine(settings, engine).connect() as conn:
        rows = conn.execute(query).all()
    table = pd.DataFrame(rows, columns=["turbine", "signal", "rows", "first", "last", "mean"])
    table = table.astype({"mean": "float64"}).set_index(["turbine", "signal"])
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
    turbines: list[str] | None = None,
    wide: bool = True,
) -> pd.DataFrame:
    """Values of the named signals (all when ``names`` is None) of ``turbines`` (all when None) over
    ``[start, end)``.

    Wide: one row per timestamp, one column per ``(turbine, signal)``. Long (``wide=False``):
    ``timestamp, turbine, signal, value`` rows, ordered by turbine, signal and time.
    """
    engine = _engine(settings, engine)
    query = (
        select(
            target_data.c.timestamp, turbine.c.name.label("turbine"), signal.c.name.label("signal"), target_data.c.value
        )
        .join(signal, signal.c.id == target_data.c.signal_id)
        .join(turbine, turbine.c.id == signal.c.turbine_id)
        .where(target_data.c.timestamp >= _as_utc(start), target_data.c.timestamp < _as_utc(end))
        .order_by(turbine.c.name, signal.c.name, target_data.c.timestamp)
    )
    if names is not None:
        query = query.where(signal.c.name.in_(names))
    if turbines is not None:
        query = query.where(turbine.c.name.in_(turbines))
    with engine.connect() as conn:
        long = pd.DataFrame(conn.execute(query).all(), columns=["timestamp", "turbine", "signal", "value"])
    long["timestamp"] = pd.to_datetime(long["timestamp"], utc=True)
    if not wide:
        return long
    table = long.pivot(index="timestamp", columns=["turbine", "signal"], values="value")
    return table


def read_kpis(
    start: dt.date,
    end: dt.date,
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    turbines=None,
    farms=None,
) -> pd.DataFrame:
    """The daily KPI rows (``turbine_day_kpi``) of the days ``start`` to ``end`` (both included), of the
    ``turbines`` named and the ``farms`` named (default: all): columns ``day``, ``farm`` and ``turbine`` (their
    names) and the table's figures."""
    figures = [c for c in turbine_day_kpi.c if c.name not in ("turbine_id", "day", "run_id")]
    query = (
        select(turbine_day_kpi.c.day, farm.c.name.label("farm"), turbine.c.name.label("turbine"), *figures)
        .join(turbine, turbine.c.id == turbine_day_kpi.c.turbine_id)
        .outerjoin(farm, farm.c.id == turbine.c.farm_id)
        .where(turbine_day_kpi.c.day >= start, turbine_day_kpi.c.day <= end)
        .order_by(turbine_day_kpi.c.day, farm.c.name, turbine.c.name)
    )
    if turbines is not None:
        query = query.where(turbine.c.name.in_(_as_list(turbines)))
    if farms is not None:
        query = query.where(farm.c.name.in_(_as_list(farms)))
    with _engine(settings, engine).connect() as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def newest_buckets(engine: Engine, farms: list[str] | None = None) -> dict[str, dt.datetime | None]:
    """The start of each farm's newest 10-minute bucket in the target (``None``: nothing written), of the ``farms``
    named (default: all). Each signal's newest row is one step of its index, not a scan of its rows."""
    newest = (
        select(func.max(target_data.c.timestamp))
        .where(target_data.c.signal_id == signal.c.id)
        .scalar_subquery()
        .correlate(signal)
    )
    query = (
        select(farm.c.name, func.max(newest))
        .select_from(farm)
        .outerjoin(turbine, turbine.c.farm_id == farm.c.id)
        .outerjoin(signal, signal.c.turbine_id == turbine.c.id)
        .group_by(farm.c.name)
    )
    if farms is not None:
        query = query.where(farm.c.name.in_(_as_list(farms)))
    with engine.connect() as conn:
        found = dict(conn.execute(query).all())
    return {name: found.get(name) for name in (farms if farms is not None else found)}
