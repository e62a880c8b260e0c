"""Load: replace one UTC day of the scope's turbines in the target, atomically (SQLAlchemy + COPY).

One transaction records the farm, the turbines and their models as the source describes them, makes any
missing signals, deletes the day's rows of those turbines' signals, COPYs the new rows in, inserts
the run record and replaces the turbines' KPIs of the day: all of it commits, or none. Other turbines'
rows, and other farms', are not touched; runs of one farm-day take turns, other farms' days run beside.
"""

from __future__ import annotations

import datetime as dt
import time
import zlib

import pandas as pd
import psycopg2
from sqlalchemy import Connection, Engine, delete, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from ..core.contract import RunStatus
from ..core.errors import TargetWriteError
from ..core.scope import RunScope
from ..storage.copy import copy_rows
from ..storage.engines import redact
from ..storage.run_record import RunRecord
from ..storage.target import ensure_signals, target_data, turbine_day_kpi, upsert_farm


def day_lock_key(run_date: dt.date, farm: str | None = None) -> int:
    """A stable advisory-lock key per farm and date, so runs of the same farm-day take turns."""
    return zlib.crc32(f"wind-etl:{run_date.isoformat()}".encode() + (b"" if farm is None else f":{farm}".encode()))


def replace_day(
    engine: Engine,
    scope: RunScope,
    turbines: list[dict],
    rows: pd.DataFrame,
    signals: list[str],
    record: RunRecord,
    kpis: pd.DataFrame | None = None,
    site: dict | None = None,
) -> int:
    """Delete the day's rows of ``signals`` of the ``turbines`` (``name``, ``model``, position), COPY
    ``rows`` (``turbine, timestamp, signal, value``) in, insert ``record`` as succeeded and replace the
    turbines' KPIs of the day with ``kpis`` (a row per turbine, ``metrics.kpis.day_kpis``), in one
    transaction; return the run record's id. ``site`` (``name``, position, elevation) is the turbines' farm.

    Concurrent runs of the same farm-day serialize on an advisory lock; a failure anywhere rolls
    back, leaving the previous rows of the day intact and no record of success.
    """
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            conn.execute(select(func.pg_advisory_xact_lock(day_lock_key(scope.run_date, scope.farm))))
            turbine_ids = upsert_farm(conn, turbines, site)
            ids = ensure_signals(conn, turbine_ids, signals)
            conn.execute(
                text(
                    f'DELETE FROM "{target_data.name}" WHERE signal_id = ANY(:ids) '
                    'AND "timestamp" >= :start AND "timestamp" < :end'
                ),
                {"ids": list(ids.values()), "start": scope.start, "end": scope.end},
            )
            keys = pd.MultiIndex.from_arrays([rows["turbine"], rows["signal"]])
            signal_id = pd.Series(ids).reindex(keys).to_numpy(dtype="int64")
            timestamps = pd.DatetimeIndex(rows["timestamp"]).tz_convert("UTC").tz_localize(None).to_numpy()
            record.rows_written = copy_rows(
                conn,
                target_data.name,
                {"signal_id": signal_id, "timestamp": timestamps, "value": rows["value"].to_numpy(dtype="float64")},
            )
            record.seconds = {**(record.seconds or {}), "load": round(time.perf_counter() - started, 4)}
            run_id = record.insert(conn, RunStatus.SUCCEEDED)
            if kpis is not None:
                replace_kpis(conn, scope, turbine_ids, kpis, run_id)
            return run_id
    except (DBAPIError, psycopg2.Error) as exc:  # COPY runs on the driver's cursor: psycopg2 errors, unwrapped
        record.rows_written = None
        target = redact(engine.url.render_as_string(False))
        raise TargetWriteError(
            f"Writing {scope.label} to the target {target} failed and was rolled back: {_first_database_error(exc)}",
            "Nothing of this run was kept; the day's previous rows are intact. Fix the cause and re-run the date.",
            run_date=scope.run_date,
            target=target,
        ) from exc


def replace_kpis(
    conn: Connection, scope: RunScope, turbine_ids: dict[str, int], kpis: pd.DataFrame, run_id: int
) -> None:
    """The day's KPI rows of the turbines of ``kpis`` (index: names) replaced by them, inside the open transaction."""
    ids = [turbine_ids[name] for name in kpis.index]
    conn.execute(
        delete(turbine_day_kpi).where(turbine_day_kpi.c.day == scope.run_date, turbine_day_kpi.c.turbine_id.in_(ids))
    )
    columns = [c.name for c in turbine_day_kpi.columns if c.name not in ("turbine_id", "day", "run_id")]
    values = kpis.reindex(columns=columns)
    conn.execute(
        insert(turbine_day_kpi),
        [
            {"turbine_id": tid, "day": scope.run_date, "run_id": run_id, **row}
            for tid, row in zip(ids, values.astype(object).to_dict("records"))
        ],
    )


def _first_database_error(exc: BaseException) -> str:
    """The error that started it: when the connection dies mid-COPY, the rollback's own
    "connection already closed" hides the real cause in ``__context__``."""
    first = exc
    seen = exc.__context__
    while seen is not None:
        if isinstance(seen, (DBAPIError, psycopg2.Error)):
            first = seen
        seen = seen.__context__
    return str(getattr(first, "orig", None) or first).strip()
