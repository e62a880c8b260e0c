"""run_etl: extract, transform and load one UTC day. The notebook, CLI, Dagster and tests call this."""

from __future__ import annotations

import datetime as dt
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pandas as pd
from sqlalchemy import Engine

from .dates import day_bounds, parse_run_date
from .db import engine_for
from .errors import NoSourceDataError
from .extract import fetch_day, make_client
from .load import replace_day
from .settings import Settings, get_settings
from .target_schema import ETL_VARIABLES, create_target_schema, etl_signal_names
from .transform import aggregate, to_signal_rows

_prepared_targets: set[str] = set()


@dataclass
class RunResult:
    run_date: dt.date
    rows_read: int
    buckets: int
    rows_written: int
    seconds: dict[str, float]
    samples: pd.DataFrame = field(repr=False)
    statistics: pd.DataFrame = field(repr=False)

    def summary(self) -> dict:
        """The small, JSON-friendly part of the result."""
        return {
            "date": self.run_date.isoformat(),
            "rows_read": self.rows_read,
            "buckets": self.buckets,
            "rows_written": self.rows_written,
            "seconds": {step: round(value, 4) for step, value in self.seconds.items()},
        }


@contextmanager
def _timed(seconds: dict[str, float], step: str):
    started = time.perf_counter()
    yield
    seconds[step] = time.perf_counter() - started


def prepare_target(engine: Engine) -> None:
    """Create the target schema once per process and URL (idempotent)."""
    key = engine.url.render_as_string(hide_password=False)
    if key not in _prepared_targets:
        create_target_schema(engine)
        _prepared_targets.add(key)


def run_etl(
    run_date: dt.date | str,
    settings: Settings | None = None,
    *,
    client: httpx.Client | None = None,
    engine: Engine | None = None,
) -> RunResult:
    settings = settings or get_settings()
    run_date = parse_run_date(run_date)
    engine = engine or engine_for(settings.target_url)
    variables = list(ETL_VARIABLES)
    seconds: dict[str, float] = {}

    with _timed(seconds, "extract"):
        owns_client = client is None
        client = client or make_client(settings)
        try:
            samples = fetch_day(client, run_date, variables, retries=settings.http_retries)
        finally:
            if owns_client:
                client.close()
    if samples.empty:
        start, end = day_bounds(run_date)
        raise NoSourceDataError(
            f"The source has no samples for {run_date.isoformat()} ([{start.isoformat()}, {end.isoformat()})).",
            "Pick a date inside the source's coverage (GET /coverage on the API, or `etl seed` to fill it).",
        )
    with _timed(seconds, "transform"):
        statistics = aggregate(samples, variables)
        rows = to_signal_rows(statistics)
    with _timed(seconds, "load"):
        prepare_target(engine)
        written = replace_day(engine, run_date, rows, etl_signal_names())
    return RunResult(
        run_date=run_date,
        rows_read=len(samples),
        buckets=len(statistics),
        rows_written=written,
        seconds=seconds,
        samples=samples,
        statistics=statistics,
    )
