"""Load: replace one UTC day of the scope's turbines in the target, atomically (SQLAlchemy + COPY).

One transaction takes the farm-day's lock (runs of one farm's date take turns; other farms' days are
written beside them), records the farm, its turbines and their models as the source describes them,
marks the farm's turbines the source no longer has as retired (and those it has again as current), makes
any missing signals, deletes the day's rows of those turbines' signals, COPYs the new rows in, inserts the
run record and replaces the turbines' KPIs of the day: all of it commits, or none. A run of the whole
farm also deletes the day's rows of every turbine of the farm the source no longer has, so the target
then holds for that farm's day exactly the source's turbines of it (their other days stay); a run of some
turbines touches no other turbine's rows, and a run of one farm no other farm's.

A run that finds the day locked by another says so after a few seconds (logger
``etl_lib.pipeline.load``, INFO: which PostgreSQL session, its application name, which names the
other run's key and process, and since when) and gives up after ``ETL_DAY_LOCK_WAIT_S`` with
``DayLockedError`` naming it. The holder's session is bounded by the target's session limits
(``storage.engines``): a run stopped inside its transaction loses its session, and the lock, after
``ETL_TARGET_IDLE_IN_TRANSACTION_TIMEOUT_S``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import zlib

import pandas as pd
import psycopg2
from sqlalchemy import Connection, Engine, delete, func, insert, select, text, true
from sqlalchemy.exc import DBAPIError, OperationalError

from ..core.contract import RunStatus
from ..core.errors import DayLockedError, TargetWriteError
from ..core.scope import RunScope
from ..storage.copy import copy_rows
from ..storage.engines import APPLICATION_NAME, redact
from ..storage.run_record import RunRecord
from ..storage.target import (
    ensure_signals,
    retire,
    signal,
    target_data,
    turbine,
    turbine_day_kpi,
    upsert_farm,
    upsert_site,
)

logger = logging.getLogger(__name__)
LOCK_NOTICE_S = 3.0  # a run waiting for the day's lock says so after this long
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's code for a lock wait ended by lock_timeout


def day_lock_key(run_date: dt.date, farm: str | None = None) -> int:
    """A stable advisory-lock key per farm and date, so runs of the same farm-day take turns."""
    return zlib.crc32(f"wind-etl:{run_date.isoformat()}".encode() + (b"" if farm is None else f":{farm}".encode()))


def holder_name(run_date: dt.date, key: str) -> str:
    """The application name a run's session takes while it holds the day's lock: the date, the run's key
    (its ``etl_run.key``, the first 16 characters) and its process; PostgreSQL keeps 63 bytes."""
    return f"{APPLICATION_NAME} {run_date.isoformat()} run {key[:16]} pid {os.getpid()}"


def lock_holder(conn: Connection, run_date: dt.date, farm: str | None = None) -> dict | None:
    """The session that holds the farm-day's lock: its PostgreSQL ``pid``, ``application_name``, ``state`` and
    ``xact_start`` (from pg_locks and pg_stat_activity), or None when nobody holds it."""
    row = (
        conn.execute(
            text(
                "SELECT l.pid, a.application_name, a.state, a.xact_start FROM pg_locks l "
                "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objsubid = 1 "
                "AND l.objid = CAST(CAST(:key AS bigint) AS oid) "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": day_lock_key(run_date, farm)},
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def describe_holder(holder: dict | None) -> str:
    if holder is None:
        return "a session that has just let go of it"
    since = holder["xact_start"]
    return (
        f"PostgreSQL session {holder['pid']} ({holder['application_name'] or 'no application name'!r}, "
        f"{holder['state'] or 'state unknown'}"
        + (f", in its transaction since {since.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC" if since else "")
        + ")"
    )


def take_day_lock(conn: Connection, run_date: dt.date, wait_s: float, farm: str | None = None) -> None:
    """The farm-day's lock inside ``conn``'s transaction: at once if free; else waited for in the lock's queue,
    said after ``LOCK_NOTICE_S`` (or half the wait, if shorter), given up after ``wait_s``
    (``DayLockedError``, naming the holder)."""
    key = day_lock_key(run_date, farm)
    if conn.execute(select(func.pg_try_advisory_xact_lock(key))).scalar_one():
        return
    started = time.monotonic()
    first = min(LOCK_NOTICE_S, wait_s / 2)
    if _wait_for_lock(conn, key, first):
        return
    logger.info(
        "Waiting for another run of %s to finish writing it: the day's lock is held by %s. "
        "Giving up after %.0f s (ETL_DAY_LOCK_WAIT_S).",
        run_date.isoformat(),
        describe_holder(lock_holder(conn, run_date, farm)),
        wait_s,
    )
    if _wait_for_lock(conn, key, wait_s - (time.monotonic() - started)):
        logger.info(
            "The day's lock of %s is free after %.1f s; writing.", run_date.isoformat(), time.monotonic() - started
        )
        return
    raise DayLockedError(run_date, wait_s, describe_holder(lock_holder(conn, run_date, farm)))


def _wait_for_lock(conn: Connection, key: int, seconds: float) -> bool:
    """Wait at most ``seconds`` for the advisory lock ``key`` (in its queue: pg_stat_activity shows the
    wait), inside a savepoint so that running out of time leaves the transaction usable; the session's
    own lock_timeout is restored afterwards."""
    own = conn.execute(select(func.current_setting("lock_timeout"))).scalar_one()
    savepoint = conn.begin_nested()
    try:
        conn.execute(select(func.set_config("lock_timeout", f"{max(1, round(seconds * 1000))}ms", True)))
        conn.execute(select(func.pg_advisory_xact_lock(key)))
    except OperationalError as exc:
        if getattr(exc.orig, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        savepoint.rollback()
        return False
    savepoint.commit()  # the lock stays the transaction's
    conn.execute(select(func.set_config("lock_timeout", own, True)))
    return True


def replace_day(
    engine: Engine,
    scope: RunScope,
    turbines: list[dict],
    rows: pd.DataFrame,
    signals: list[str],
    record: RunRecord,
    kpis: pd.DataFrame | None = None,
    *,
    farm: list[str] | None = None,
    whole_farm: bool = False,
    lock_wait_s: float = 60.0,
    site: dict | None = None,
) -> int:
    """Delete the day's rows of ``signals`` of the ``turbines`` (``name``, ``model``, position), COPY
    ``rows`` (``turbine, timestamp, signal, value``) in, insert ``record`` as succeeded and replace the
    turbines' KPIs of the day with ``kpis`` (a row per turbine, ``metrics.kpis.day_kpis``), in one
    transaction; return the run record's id. ``site`` (``name``, position, elevation) is the turbines' farm;
    ``farm`` (every turbine the source has now of that farm) marks the farm's others retired; with
    ``whole_farm`` their rows of the day (and KPIs) are deleted too. Another farm's turbines are never touched.

    Concurrent runs of the same farm-day serialize on its lock (``take_day_lock``); a failure anywhere
    rolls back, leaving the previous rows of the day intact and no record of success.
    """
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            take_day_lock(conn, scope.run_date, lock_wait_s, scope.farm)
            conn.execute(select(func.set_config("application_name", holder_name(scope.run_date, record.key), True)))
            farm_id = None if site is None else upsert_site(conn, site)
            turbine_ids = upsert_farm(conn, turbines, farm_id)
            ids = ensure_signals(conn, turbine_ids, signals)
            if farm is not None:
                retire(conn, farm, farm_id)
            if whole_farm and farm is not None:  # the farm's day holds the source's turbines of it, and no others
                ours = turbine.c.name.not_in(farm) & (turbine.c.farm_id == farm_id if farm_id is not None else true())
                gone = select(signal.c.id).join(turbine, turbine.c.id == signal.c.turbine_id)
                conn.execute(
                    target_data.delete().where(
                        target_data.c.signal_id.in_(gone.where(ours)),
                        target_data.c.timestamp >= scope.start,
                        target_data.c.timestamp < scope.end,
                    )
                )
                gone_turbines = select(turbine.c.id).where(ours)
                conn.execute(
                    delete(turbine_day_kpi).where(
                        turbine_day_kpi.c.day == scope.run_date, turbine_day_kpi.c.turbine_id.in_(gone_turbines)
                    )
                )
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
    except DayLockedError:
        record.rows_written = None
        raise
    except (DBAPIError, psycopg2.Error) as exc:  # COPY runs on the driver's cursor: psycopg2 errors, unwrapped
        raise _write_failed(engine, scope, record, exc) from exc
    except SystemError as exc:  # psycopg2 decoding a server's message while the connection dies under it
        if _database_cause(exc) is None:
            raise
        raise _write_failed(engine, scope, record, _database_cause(exc)) from exc


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
            {"turbine_id": tid, "day": scope.run_date, "run_id": run_id, **dict(zip(columns, row))}
            for tid, row in zip(ids, values.to_numpy(dtype=object))  # Python numbers; DataFrame.to_dict took 5 ms
        ],
    )


def _write_failed(engine: Engine, scope: RunScope, record: RunRecord, exc: BaseException) -> TargetWriteError:
    record.rows_written = None
    target = redact(engine.url.render_as_string(False))
    first = _first_database_error(exc)
    lost = isinstance(getattr(first, "orig", None) or first, psycopg2.OperationalError)
    return TargetWriteError(
        f"Writing {scope.label} to the target {target} failed and was rolled back: "
        f"{str(getattr(first, 'orig', None) or first).strip()}",
        (
            "The target's server ended the connection (it was stopped, restarted or crashed, or the session was "
            "ended): check it with `etl doctor` (`etl stack up` starts the embedded one), then re-run the date. "
            if lost
            else "Fix the cause and re-run the date. "
        )
        + "Nothing of this run was kept; the day's previous rows are intact.",
        run_date=scope.run_date,
        target=target,
    )


def _database_cause(exc: BaseException) -> BaseException | None:
    """The database error behind ``exc`` (its cause or context, however deep), if any."""
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, (DBAPIError, psycopg2.Error)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _first_database_error(exc: BaseException) -> BaseException:
    """The error that started it: when the connection dies mid-COPY, the rollback's own
    "connection already closed" hides the real cause in ``__context__``."""
    first = exc
    seen = exc.__context__
    while seen is not None:
        if isinstance(seen, (DBAPIError, psycopg2.Error)):
            first = seen
        seen = seen.__context__
    return first
