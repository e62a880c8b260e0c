"""The run record: one ``etl_run`` row in the target per execution of ``run_etl``, failed ones too."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine, insert, select

from .target_schema import etl_run


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class RunRecord:
    """What is known of a run so far; the pipeline fills it in step by step."""

    run_date: dt.date
    started_at: dt.datetime = field(default_factory=utc_now)
    rows_read: int | None = None
    rows_written: int | None = None
    quality: dict | None = None
    flag_counts: dict | None = None
    thresholds: dict | None = None
    report: str | None = None

    def write(self, engine: Engine, status: str, error: str | None = None) -> int:
        """Insert the row (its own transaction) and return its id."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        with engine.begin() as conn:
            return conn.execute(
                insert(etl_run).values(**values, finished_at=utc_now(), status=status, error=error).returning(etl_run.c.id)
            ).scalar_one()


def read_runs(engine: Engine, run_date: dt.date | None = None) -> pd.DataFrame:
    """The recorded runs (of one date, or all), oldest first."""
    query = select(etl_run).order_by(etl_run.c.started_at, etl_run.c.id)
    if run_date is not None:
        query = query.where(etl_run.c.run_date == run_date)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=[c.name for c in etl_run.columns])
