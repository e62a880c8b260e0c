"""The run record: one ``etl_run`` row in the target per execution of ``run_etl``, failed ones too.

A succeeded run's row is inserted in the same transaction as its data (``insert``), so neither
commits without the other; a failed run's row in a transaction of its own (``write``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select

from ..core.contract import RunStatus
from ..core.dates import utc_now
from .target import etl_run


@dataclass
class RunRecord:
    """What is known of a run so far; the pipeline fills it in step by step."""

    run_date: dt.date
    started_at: dt.datetime = field(default_factory=utc_now)
    turbines: list[str] | None = None
    rows_read: int | None = None
    rows_written: int | None = None
    quality: dict | None = None
    flag_counts: dict | None = None
    thresholds: dict | None = None
    report: str | None = None

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


def read_runs(engine: Engine, run_date: dt.date | None = None) -> pd.DataFrame:
    """The recorded runs (of one date, or all), oldest first."""
    query = select(etl_run).order_by(etl_run.c.started_at, etl_run.c.id)
    if run_date is not None:
        query = query.where(etl_run.c.run_date == run_date)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=[c.name for c in etl_run.columns])
