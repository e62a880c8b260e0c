"""Load: replace one UTC day of the ETL's signals in the target, atomically (SQLAlchemy + COPY)."""

from __future__ import annotations

import datetime as dt
import zlib

import pandas as pd
import psycopg2
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import DBAPIError

from .dates import day_bounds
from .db import copy_frame, redact
from .errors import TargetWriteError
from .target_schema import signal_ids, target_data


def day_lock_key(run_date: dt.date) -> int:
    """A stable advisory-lock key per date, so runs of the same day take turns."""
    return zlib.crc32(f"wind-etl:{run_date.isoformat()}".encode())


def replace_day(engine: Engine, run_date: dt.date, rows: pd.DataFrame, signals: list[str]) -> int:
    """Delete the day's rows of ``signals`` and COPY ``rows`` in, in one transaction.

    Concurrent runs of the same date serialize on an advisory lock; a failure anywhere
    rolls back, leaving the previous rows of the day intact.
    """
    start, end = day_bounds(run_date)
    try:
        with engine.begin() as conn:
            conn.execute(select(func.pg_advisory_xact_lock(day_lock_key(run_date))))
            ids = signal_ids(conn, signals)
            missing = sorted(set(signals) - set(ids))
            if missing:
                raise TargetWriteError(
                    f"The target has no signal(s) {', '.join(missing)}.",
                    "Create the schema and seed the signals with `etl init` (or `etl stack up`).",
                )
            conn.execute(
                delete(target_data).where(
                    target_data.c.signal_id.in_(ids.values()),
                    target_data.c.timestamp >= start,
                    target_data.c.timestamp < end,
                )
            )
            frame = pd.DataFrame(
                {"timestamp": rows["timestamp"], "signal_id": rows["signal"].map(ids), "value": rows["value"]}
            )
            return copy_frame(conn, target_data.name, frame)
    except (DBAPIError, psycopg2.Error) as exc:  # COPY runs on the driver's cursor: psycopg2 errors, unwrapped
        raise TargetWriteError(
            f"Writing {run_date.isoformat()} to the target {redact(engine.url.render_as_string(False))} failed "
            f"and was rolled back: {_first_database_error(exc)}",
            "Nothing of this run was kept; the day's previous rows are intact. Fix the cause and re-run the date.",
        ) from exc


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
