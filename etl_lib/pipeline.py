"""run_etl: extract, check, transform and load one UTC day. The notebook, CLI, Dagster and tests call this.

Every execution with a valid date leaves one ``etl_run`` row in the target, failed ones too.
"""

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
from .errors import EtlError, NoSourceDataError, TargetWriteError
from .extract import RetryPolicy, fetch_day, make_client
from .load import replace_day
from .quality import QualityResult, QualityThresholds, check_day, thresholds_from
from .run_record import RunRecord
from .settings import Settings, get_settings
from .source_schema import SOURCE_VARIABLES
from .target_schema import ETL_VARIABLES, create_target_schema, etl_signal_names
from .transform import aggregate, bucket_quality, to_signal_rows

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
    quality: QualityResult | None = field(default=None, repr=False)  # flags per sample and check
    bucket_quality: pd.DataFrame | None = field(default=None, repr=False)  # (variable, count|quality) per bucket
    run_id: int | None = None  # the etl_run row

    def summary(self) -> dict:
        """The small, JSON-friendly part of the result."""
        return {
            "date": self.run_date.isoformat(),
            "rows_read": self.rows_read,
            "buckets": self.buckets,
            "rows_written": self.rows_written,
            "seconds": {step: round(value, 4) for step, value in self.seconds.items()},
            **quality_summary(self.quality),
        }


def quality_summary(quality: QualityResult | None) -> dict:
    """The day's share of good samples per variable (rounded) and the flag counts, as the run
    record, the notebook and Dagster keep them."""
    if quality is None:
        return {"quality": {}, "flag_counts": {}}
    return {
        "quality": {variable: round(share, 6) for variable, share in quality.day_quality().items()},
        "flag_counts": quality.flag_counts(),
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
    thresholds: QualityThresholds | dict | None = None,
    report: str | None = None,
) -> RunResult:
    """Run the day; ``thresholds`` overrides quality thresholds, ``report`` is the audit notebook's path
    (kept in the run record)."""
    settings = settings or get_settings()
    run_date = parse_run_date(run_date)
    engine = engine or engine_for(settings.target_url)
    record = RunRecord(run_date, report=None if report is None else str(report))
    try:
        result = _run_steps(run_date, settings, client, engine, thresholds, record)
    except Exception as exc:
        _record_failure(engine, record, exc)
        raise
    try:
        result.run_id = record.write(engine, "succeeded")
    except Exception as exc:
        raise TargetWriteError(
            f"The data of {run_date.isoformat()} was written, but its run record (table etl_run) was not: {exc}",
            "Re-run the date once the target accepts writes again; the re-run replaces the day.",
        ) from exc
    return result


def _record_failure(engine: Engine, record: RunRecord, exc: BaseException) -> None:
    """Keep the failed run in etl_run; if even that fails, say so on the original error."""
    error = str(exc) if isinstance(exc, EtlError) else f"{type(exc).__name__}: {exc}"
    try:
        prepare_target(engine)
        record.write(engine, "failed", error)
    except Exception as record_exc:  # the target itself may be what failed
        exc.add_note(f"The failed run could not be recorded in etl_run either: {record_exc}")


def _run_steps(
    run_date: dt.date,
    settings: Settings,
    client: httpx.Client | None,
    engine: Engine,
    thresholds: QualityThresholds | dict | None,
    record: RunRecord,
) -> RunResult:
    variables = list(ETL_VARIABLES)
    seconds: dict[str, float] = {}
    thresholds = thresholds_from(thresholds)  # a bad override fails before any work

    with _timed(seconds, "extract"):
        owns_client = client is None
        client = client or make_client(settings)
        try:
            # Ambient temperature too: the ETL does not aggregate it, but its checks are in the report.
            samples = fetch_day(client, run_date, list(SOURCE_VARIABLES), retry=RetryPolicy.from_settings(settings))
        finally:
            if owns_client:
                client.close()
    if samples.empty:
        start, end = day_bounds(run_date)
        raise NoSourceDataError(
            f"The source has no samples for {run_date.isoformat()} ([{start.isoformat()}, {end.isoformat()})).",
            "Pick a date inside the source's coverage (GET /coverage on the API, or `etl seed` to fill it).",
        )
    record.rows_read = len(samples)
    with _timed(seconds, "quality"):
        quality = check_day(samples, run_date, thresholds)
        per_bucket = bucket_quality(quality, variables)
    recorded = quality_summary(quality)
    record.quality, record.flag_counts = recorded["quality"], recorded["flag_counts"]
    record.thresholds = quality.thresholds.model_dump()
    with _timed(seconds, "transform"):
        statistics = aggregate(samples, variables)
        rows = to_signal_rows(pd.concat([statistics, per_bucket], axis=1, sort=True))
    with _timed(seconds, "load"):
        prepare_target(engine)
        written = replace_day(engine, run_date, rows, etl_signal_names())
    record.rows_written = written
    return RunResult(
        run_date=run_date,
        rows_read=len(samples),
        buckets=len(statistics),
        rows_written=written,
        seconds=seconds,
        samples=samples,
        statistics=statistics,
        quality=quality,
        bucket_quality=per_bucket,
    )
