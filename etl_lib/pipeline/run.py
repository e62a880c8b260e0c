"""run_etl: extract, check, transform and load one UTC day of a farm; the one place the stages are wired.

The notebook, the CLI, Dagster and the tests call this. One run is one day of the whole farm (or
of the turbines given): the farm and the day's samples from the API, both of one state of the source
(read again when the source was replaced between them, at most ``SNAPSHOT_READS`` times), checks and
statistics vectorised across turbines, one transaction that replaces that day for those turbines and
records the run, with the source's version it read. Every execution with a valid date leaves one
``etl_run`` row in the target, failed ones too.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pandas as pd
from sqlalchemy import Engine

from ..config.settings import Settings, get_settings
from ..core.contract import ETL_VARIABLES, SOURCE_VARIABLES, RunStatus, etl_signal_names
from ..core.errors import EtlError, NoSourceDataError, SourceChangedError
from ..core.scope import RunScope
from ..storage.engines import target_engine
from ..storage.errors import database_error
from ..storage.run_record import RunRecord
from ..storage.target import ensure_target_schema
from .extract import Farm, RetryPolicy, Samples, Turbine, fetch_day, fetch_farm, make_client, select_turbines
from .load import replace_day
from .quality import QualityResult, QualityThresholds, check_day, thresholds_from
from .transform import aggregate, bucket_quality, to_signal_rows

logger = logging.getLogger(__name__)
# How often a run reads the farm and the day again when the source changed between the two reads.
SNAPSHOT_READS = 3


@dataclass
class RunResult:
    scope: RunScope  # the day and the turbines the run covered
    turbines: list[Turbine]
    rows_read: int
    buckets: int  # (turbine, bucket) pairs with statistics
    rows_written: int
    seconds: dict[str, float]
    samples: Samples = field(repr=False)
    statistics: pd.DataFrame = field(repr=False)  # (turbine, variable, statistic) per bucket
    quality: QualityResult = field(repr=False)  # flags per sample, turbine, variable and check
    bucket_quality: pd.DataFrame = field(repr=False)  # (turbine, variable, count|quality) per bucket
    overflowed: int = 0  # statistics not written because they are not finite
    run_id: int | None = None  # the etl_run row
    key: str | None = None  # the run's key in its etl_run row
    source_version: int | None = None  # the source's version the farm and the samples were read from

    @property
    def run_date(self) -> dt.date:
        return self.scope.run_date

    def summary(self) -> dict:
        """The small, JSON-friendly part of the result."""
        return {
            "key": self.key,
            "date": self.run_date.isoformat(),
            "turbines": list(self.scope.turbines),
            "rows_read": self.rows_read,
            "buckets": self.buckets,
            "rows_written": self.rows_written,
            "overflowed_statistics": self.overflowed,
            "source_version": self.source_version,
            "seconds": {step: round(value, 4) for step, value in self.seconds.items()},
            **quality_summary(self.quality),
        }


def quality_summary(quality: QualityResult) -> dict:
    """Per turbine, the day's share of good samples per variable (rounded) and the flag counts, as the run
    record, the notebook and Dagster keep them."""
    return {
        "quality": {
            turbine: {variable: round(share, 6) for variable, share in shares.items()}
            for turbine, shares in quality.day_quality().items()
        },
        "flag_counts": quality.flag_counts(),
    }


@contextmanager
def _timed(seconds: dict[str, float], step: str):
    started = time.perf_counter()
    yield
    seconds[step] = time.perf_counter() - started


def run_etl(
    run_date: dt.date | str,
    settings: Settings | None = None,
    *,
    turbines: list[str] | str | None = None,
    client: httpx.Client | None = None,
    engine: Engine | None = None,
    thresholds: QualityThresholds | dict | None = None,
    report: str | None = None,
    key: str | None = None,
) -> RunResult:
    """Run the day for the farm, or for ``turbines`` (names); ``thresholds`` overrides quality thresholds,
    ``report`` is the audit notebook's path and ``key`` the caller's id of the run (both kept in the run
    record; a key is made when none is given)."""
    settings = settings or get_settings()
    scope = RunScope.day(run_date, turbines)
    engine = engine or target_engine(settings)
    record = RunRecord(
        scope.run_date,
        turbines=None if scope.turbines is None else list(scope.turbines),
        report=None if report is None else str(report),
    )
    if key:
        record.key = str(key)
    try:
        return _run_steps(scope, settings, client, engine, thresholds, record)
    except Exception as exc:
        error = database_error(exc, "target") or exc  # the target's failure as the project's own error
        _record_failure(engine, record, error)
        if error is exc:
            raise
        raise error from exc


def _record_failure(engine: Engine, record: RunRecord, exc: BaseException) -> None:
    """Keep the failed run in etl_run; if even that fails, say so on the original error."""
    error = str(exc) if isinstance(exc, EtlError) else f"{type(exc).__name__}: {exc}"
    try:
        ensure_target_schema(engine)
        record.write(engine, RunStatus.FAILED, error)
    except Exception as record_exc:  # the target itself may be what failed
        exc.add_note(f"The failed run could not be recorded in etl_run either: {record_exc}")


def _run_steps(
    scope: RunScope,
    settings: Settings,
    client: httpx.Client | None,
    engine: Engine,
    thresholds: QualityThresholds | dict | None,
    record: RunRecord,
) -> RunResult:
    seconds: dict[str, float] = {}
    thresholds = thresholds_from(thresholds)  # a bad override fails before any work
    retry = RetryPolicy.from_settings(settings)

    whole_farm = scope.turbines is None
    with _timed(seconds, "extract"):
        owns_client = client is None
        client = client or make_client(settings)
        try:
            source, farm, scope, samples = read_source(client, scope, retry, record)
        finally:
            if owns_client:
                client.close()
    if not len(samples):
        raise NoSourceDataError(scope.run_date, scope.start, scope.end)
    record.rows_read = len(samples)
    with _timed(seconds, "quality"):
        models = {turbine.name: turbine.model for turbine in farm}
        quality = check_day(samples.values, samples.non_finite, scope, models, thresholds)
        usable = quality.grid.notna()
        statistic_columns = usable.columns.get_level_values("variable").isin(ETL_VARIABLES)
        per_bucket = bucket_quality(usable.loc[:, statistic_columns], quality.good().loc[:, statistic_columns])
    recorded = quality_summary(quality)
    record.quality, record.flag_counts = recorded["quality"], recorded["flag_counts"]
    record.thresholds = quality.thresholds.model_dump()
    with _timed(seconds, "transform"):
        statistics, overflowed = aggregate(quality.grid, list(ETL_VARIABLES))
        rows = to_signal_rows(pd.concat([statistics, per_bucket], axis=1, sort=True))
    buckets = int(statistics.notna().T.groupby(level="turbine").any().T.to_numpy().sum())
    record.buckets, record.overflowed_statistics = buckets, overflowed
    record.seconds = {step: round(value, 4) for step, value in seconds.items()}
    with _timed(seconds, "load"):
        ensure_target_schema(engine)
        run_id = replace_day(
            engine,
            scope,
            [t.as_row() for t in farm],
            rows,
            etl_signal_names(),
            record,
            farm=source.names,
            whole_farm=whole_farm,
            lock_wait_s=settings.day_lock_wait_s,
        )
    return RunResult(
        scope=scope,
        turbines=farm,
        rows_read=len(samples),
        buckets=buckets,
        rows_written=record.rows_written,
        seconds=seconds,
        samples=samples,
        statistics=statistics,
        quality=quality,
        bucket_quality=per_bucket,
        overflowed=overflowed,
        run_id=run_id,
        key=record.key,
        source_version=source.version,
    )


def read_source(
    client: httpx.Client, scope: RunScope, retry: RetryPolicy, record: RunRecord
) -> tuple[Farm, list[Turbine], RunScope, Samples]:
    """The farm (all of it, and the scope's turbines of it), the scope covering those turbines, and the
    day's samples, of one state of the source: when the samples come from another version than the
    farm (a seed landed between the two reads, or while ``/data`` was retried), both are read again, up
    to ``SNAPSHOT_READS`` times; then ``SourceChangedError``. ``record`` learns the turbines and the version."""
    for read in range(1, SNAPSHOT_READS + 1):
        source = fetch_farm(client, retry=retry)
        farm = select_turbines(source, scope)
        covered = scope.covering([turbine.name for turbine in farm])
        record.turbines, record.source_version = list(covered.turbines), source.version
        try:
            # Ambient temperature too: the ETL does not aggregate it, but its checks are in the report.
            return source, farm, covered, fetch_day(client, covered, list(SOURCE_VARIABLES), retry=retry, farm=source)
        except SourceChangedError as changed:
            if read == SNAPSHOT_READS:
                raise SourceChangedError(
                    changed.farm_version, changed.samples_version, scope.run_date, reads=read
                ) from None
            logger.info(
                "The source changed while this run read it (the farm from version %d, the samples from version "
                "%d): reading both again (read %d of at most %d).",
                changed.farm_version,
                changed.samples_version,
                read + 1,
                SNAPSHOT_READS,
            )
    raise AssertionError("unreachable")
