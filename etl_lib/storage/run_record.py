"""The run record: one ``etl_run`` row in the target per execution of ``run_etl``, failed ones too. It is
the one record of what a run did (status, counts, quality, flag counts, its report and what became of
it); ``etl run``, ``etl backfill``, ``etl report`` and Dagster read it, nothing else.

A succeeded run's row is inserted in the same transaction as its data (``insert``), so neither
commits without the other; a failed run's row in a transaction of its own (``write``). Each row carries
the ``key`` its caller gave the run, so the caller finds it again (``read_run``), e.g. after the notebook
that ran it has ended.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Connection, Engine, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import distinct_on

from ..core.contract import RunStatus
from ..core.dates import day_bounds, utc_now
from .target import etl_run, farm, signal, target_data, turbine


def new_key() -> str:
    """A fresh run key."""
    return uuid.uuid4().hex


@dataclass
class RunRecord:
    """What is known of a run so far; the pipeline fills it in step by step."""

    run_date: dt.date
    key: str = field(default_factory=new_key)
    started_at: dt.datetime = field(default_factory=utc_now)
    farm: str | None = None  # the farm's name, once known
    turbines: list[str] | None = None
    rows_read: int | None = None
    buckets: int | None = None
    rows_written: int | None = None
    overflowed_statistics: int | None = None
    quality: dict | None = None
    flag_counts: dict | None = None
    thresholds: dict | None = None
    seconds: dict | None = None
    report: str | None = None
    source_version: int | None = None
    fingerprints: dict | None = None  # {turbine: {rows, checksum, last_timestamp}} of the day, as read
    complete_until: dt.datetime | None = None  # a day not over yet: written up to here (None: whole)

    def insert(self, conn: Connection, status: RunStatus, error: str | None = None) -> int:
        """Insert the row inside the connection's open transaction and return its id."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return conn.execute(
            insert(etl_run)
            .values(**values, finished_at=utc_now(), status=status.value, error=error)
            .returning(etl_run.c.id)
        ).scalar_one()

    def write(self, engine: Engine, status: RunStatus, error: str | None = None) -> int:
        """Insert the row in a transaction of its own and return its id."""
        with engine.begin() as conn:
            return self.insert(conn, status, error)


def read_run(engine: Engine, key: str, *, report: str | None = None, since: dt.datetime | None = None) -> dict | None:
    """The record of the run with ``key`` (the newest, should a key be given twice), or None. With
    ``report`` and ``since``, a run without that key that names ``report`` and started at or after
    ``since`` counts too (a notebook of one's own that does not hand its run key to ``run_etl``)."""
    which = etl_run.c.key == key
    if report is not None and since is not None:
        which = which | ((etl_run.c.report == report) & (etl_run.c.started_at >= since))
    query = select(etl_run).where(which).order_by(etl_run.c.id.desc()).limit(1)
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def record_report(engine: Engine, key: str, report: str | None, error: str | None = None) -> int:
    """Say what became of the report of the run with ``key``: where it is (None: no report was kept) and,
    when it could not be completed, why. Returns how many records it changed (0: no run has the key)."""
    with engine.begin() as conn:
        return conn.execute(
            update(etl_run).where(etl_run.c.key == key).values(report=report, report_error=error)
        ).rowcount


def read_runs(engine: Engine, run_date: dt.date | None = None, farm: str | None = None):
    """The recorded runs (of one date, or all; of one farm, or all), oldest first, as a DataFrame."""
    import pandas as pd

    query = select(etl_run).order_by(etl_run.c.started_at, etl_run.c.id)
    if run_date is not None:
        query = query.where(etl_run.c.run_date == run_date)
    if farm is not None:
        query = query.where(etl_run.c.farm == farm)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=[c.name for c in etl_run.columns])


def latest_succeeded(engine: Engine, run_date: dt.date, farm: str | None = None) -> dict | None:
    """The newest succeeded run of ``run_date`` (of ``farm``, when given), or None."""
    query = (
        select(etl_run)
        .where(etl_run.c.run_date == run_date, etl_run.c.status == RunStatus.SUCCEEDED.value)
        .order_by(etl_run.c.finished_at.desc(), etl_run.c.id.desc())
        .limit(1)
    )
    if farm is not None:
        query = query.where(etl_run.c.farm == farm)
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def turbines_with_values(conn: Connection, run_date: dt.date, farm_name: str | None = None) -> set[str]:
    """The turbines (of the farm ``farm_name``, when given) the target holds values of on the UTC day (an index
    probe per signal, no scan)."""
    start, end = day_bounds(run_date)
    has_values = exists().where(
        signal.c.turbine_id == turbine.c.id,
        target_data.c.signal_id == signal.c.id,
        target_data.c.timestamp >= start,
        target_data.c.timestamp < end,
    )
    query = select(turbine.c.name).where(has_values)
    if farm_name is not None:
        query = query.where(turbine.c.farm_id.in_(select(farm.c.id).where(farm.c.name == farm_name)))
    return set(conn.execute(query).scalars())


def standing_run(engine: Engine, run_date: dt.date, farm_name: str | None = None) -> dict | None:
    """The run whose results stand for ``run_date`` of the farm ``farm_name`` (None: of any farm, as in a source
    of one): the newest succeeded run that covered every turbine of the farm the target holds values of that day
    (a later run of some turbines re-ran only part of the day, so it does not replace the farm's run); the newest
    succeeded run when none did; None without one."""
    query = (
        select(etl_run)
        .where(etl_run.c.run_date == run_date, etl_run.c.status == RunStatus.SUCCEEDED.value)
        .order_by(etl_run.c.finished_at.desc(), etl_run.c.id.desc())
    )
    if farm_name is not None:
        query = query.where(etl_run.c.farm == farm_name)
    with engine.connect() as conn:
        runs = [dict(row) for row in conn.execute(query).mappings()]
        if not runs:
            return None
        held = turbines_with_values(conn, run_date, farm_name)
    return next((run for run in runs if held <= set(run["turbines"] or ())), runs[0])


class RecordedDay(NamedTuple):
    """What the newest succeeded run of a farm's day recorded of the source, and when it finished."""

    fingerprints: dict | None  # {turbine: {rows, checksum, last_timestamp}}; None: a run from before them
    complete_until: dt.datetime | None  # None: the whole day
    finished_at: dt.datetime


def recorded_fingerprints(engine: Engine, farm_name: str, first: dt.date, end: dt.date) -> dict[dt.date, RecordedDay]:
    """Per day of ``[first, end)``, what the newest succeeded run of the farm ``farm_name`` recorded of the source.
    A day without a succeeded run is absent. One query on ``etl_run_farm_run_date_idx``."""
    query = (
        select(etl_run.c.run_date, etl_run.c.fingerprints, etl_run.c.complete_until, etl_run.c.finished_at)
        .where(
            etl_run.c.farm == farm_name,
            etl_run.c.run_date >= first,
            etl_run.c.run_date < end,
            etl_run.c.status == RunStatus.SUCCEEDED.value,
        )
        .order_by(etl_run.c.run_date, etl_run.c.finished_at.desc(), etl_run.c.id.desc())
        .ext(distinct_on(etl_run.c.run_date))
    )
    with engine.connect() as conn:
        return {day: RecordedDay(*row) for day, *row in conn.execute(query)}


def run_count(engine: Engine) -> int:
    """How many runs ``etl_run`` holds."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(etl_run)).scalar_one()
