"""run_etl: extract, check, transform, compute the KPIs and load one UTC day of a farm; the one place the
stages are wired.

The notebook, the CLI, Dagster and the tests call this. One run is one day of one farm of the fleet (the
farm named, or the source's only one), whole or the turbines given: the fleet's farms, the farm's
turbines, the day's samples and its status log from the API, all of one state of the source (read again
when the source was replaced between them, at most ``SNAPSHOT_READS`` times), checks, statistics and KPIs
vectorised across the farm's turbines (a turbine is judged only against its own farm), one transaction
that replaces that day for those turbines and records the run, with the source's version it read; no
other farm's rows are touched. Every execution with a valid date leaves one ``etl_run`` row in the
target, failed ones too, except for a day the source has no samples of and a farm the source does not
have (or none named while it holds several): those are no runs, refused (``NoSourceDataError``, with what
the source covers; ``FarmChoiceError``, with its farms) before anything is written or recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import httpx
import pandas as pd
from sqlalchemy import Engine

from ..config.settings import Settings, get_settings
from ..core.contract import (
    ETL_VARIABLES,
    FULL_PERFORMANCE_SIGNAL,
    POTENTIAL_SIGNAL,
    SOURCE_VARIABLES,
    RunStatus,
    etl_signal_names,
    written_signal_names,
)
from ..core.errors import EtlError, FarmChoiceError, NoCompleteBucketError, NoSourceDataError, SourceChangedError
from ..core.fingerprints import complete_until
from ..core.scope import RunScope
from ..metrics import availability
from ..storage.engines import target_engine
from ..storage.errors import database_error
from ..storage.run_record import RunRecord
from ..storage.target import ensure_target_schema
from . import kpis
from .coverage import no_samples_error
from .extract import (
    Farm,
    RetryPolicy,
    Site,
    Turbine,
    choose_farm,
    fetch_day,
    fetch_events,
    fetch_farm,
    fetch_farms,
    make_client,
    select_turbines,
)
from .kpis import DayKpis, log_codes
from .load import replace_day
from .quality import QualityResult, QualityThresholds, check_day, expected_timestamps, thresholds_from
from .samples import Samples
from .transform import aggregate, bucket_means, bucket_quality, to_signal_rows, trusted_statistics

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
    kpis: DayKpis | None = field(default=None, repr=False)  # what the farm did (None: run without KPIs)
    events: pd.DataFrame | None = field(default=None, repr=False)  # the status log's events of the day
    site: Site | None = None  # the farm, as the source describes it
    # The day's fingerprints as the run read them, {turbine: {rows, checksum, last_timestamp}} (None: the API
    # sent none), and, for a day not over yet in the source, the end of its last complete bucket (None: whole).
    fingerprints: dict | None = None
    complete_until: dt.datetime | None = None

    @property
    def run_date(self) -> dt.date:
        return self.scope.run_date

    def summary(self) -> dict:
        """The small, JSON-friendly part of the result."""
        return {
            "key": self.key,
            "date": self.run_date.isoformat(),
            "farm": self.scope.farm,
            "turbines": list(self.scope.turbines),
            "rows_read": self.rows_read,
            "buckets": self.buckets,
            "rows_written": self.rows_written,
            "overflowed_statistics": self.overflowed,
            "source_version": self.source_version,
            "complete_until": None if self.complete_until is None else self.complete_until.isoformat(),
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
    farm: str | None = None,
    turbines: list[str] | str | None = None,
    client: httpx.Client | None = None,
    engine: Engine | None = None,
    thresholds: QualityThresholds | dict | None = None,
    report: str | None = None,
    key: str | None = None,
    kpis: bool = True,
) -> RunResult:
    """Run the day of the farm named ``farm`` (None: the source's only farm; a source of several farms needs the
    name), whole or for ``turbines`` (names); ``thresholds`` overrides quality thresholds,
    ``report`` is the audit notebook's path and ``key`` the caller's id of the run (both kept in the run
    record; a key is made when none is given). ``kpis=False`` leaves out the status log, the KPIs, the
    potential power and the trusted statistics (what ``make bench`` compares a day with KPIs against)."""
    settings = settings or get_settings()
    scope = RunScope.day(run_date, turbines, farm)
    engine = engine or target_engine(settings)
    record = RunRecord(
        scope.run_date,
        farm=scope.farm,
        turbines=None if scope.turbines is None else list(scope.turbines),
        report=None if report is None else str(report),
    )
    if key:
        record.key = str(key)
    try:
        return _run_steps(scope, settings, client, engine, thresholds, record, kpis)
    except (NoSourceDataError, FarmChoiceError):  # a day without source data, or of no farm: not a run, not recorded
        raise
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
    with_kpis: bool = True,
) -> RunResult:
    seconds: dict[str, float] = {}
    thresholds = thresholds_from(thresholds)  # a bad override fails before any work
    retry = RetryPolicy.from_settings(settings)

    whole_farm = scope.turbines is None
    with _timed(seconds, "extract"):
        owns_client = client is None
        client = client or make_client(settings)
        try:
            site, fleet, source, farm, scope, samples, events = read_source(
                client, scope, retry, record, events=with_kpis
            )
            if not len(samples):  # not a run: refused before anything is written, and not recorded
                raise no_samples_error(client, scope.run_date, retry, scope.farm if fleet else None)
        finally:
            if owns_client:
                client.close()
        scope, samples = complete_part(scope, samples, record, fleet)
    record.rows_read = len(samples)
    with _timed(seconds, "quality"):
        models = {turbine.name: turbine.model for turbine in farm}
        logged = log_codes(expected_timestamps(scope), scope.turbines, events) if with_kpis else None
        explained = availability.explained(logged) if logged is not None else None
        farm_of = {
            turbine.name: turbine.farm for turbine in farm
        }  # one farm's: its turbines are each other's neighbours
        quality = check_day(
            samples.values, samples.non_finite, scope, models, thresholds, explained=explained, farms=farm_of
        )
        usable = quality.grid.notna()
        statistic_columns = usable.columns.get_level_values("variable").isin(ETL_VARIABLES)
        per_bucket = bucket_quality(usable.loc[:, statistic_columns], quality.good().loc[:, statistic_columns])
    recorded = quality_summary(quality)
    record.quality, record.flag_counts = recorded["quality"], recorded["flag_counts"]
    record.thresholds = quality.thresholds.model_dump()
    day_kpis, parts = None, []
    if with_kpis:
        with _timed(seconds, "kpis"):
            elevation = {turbine.name: turbine.elevation for turbine in farm}
            day_kpis = kpis.compute(quality, logged, models, elevation, log=events is not None)
            parts = [
                trusted_statistics(quality.grid, quality.good(), list(ETL_VARIABLES)),
                bucket_means(
                    {POTENTIAL_SIGNAL: day_kpis.potential, FULL_PERFORMANCE_SIGNAL: day_kpis.full_performance}
                ),
            ]
    with _timed(seconds, "transform"):
        statistics, overflowed = aggregate(quality.grid, list(ETL_VARIABLES))
        rows = to_signal_rows(pd.concat([statistics, per_bucket, *parts], axis=1, sort=True))
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
            written_signal_names() if with_kpis else etl_signal_names(),
            record,
            None if day_kpis is None else day_kpis.table,
            farm=source.names,
            whole_farm=whole_farm,
            lock_wait_s=settings.day_lock_wait_s,
            site=site.as_row(),
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
        kpis=day_kpis,
        events=events,
        source_version=source.version,
        site=site,
        fingerprints=record.fingerprints,
        complete_until=record.complete_until,
    )


def complete_part(scope: RunScope, samples: Samples, record: RunRecord, fleet: bool) -> tuple[RunScope, Samples]:
    """The day's fingerprints into ``record`` (as the answer stated them, in the samples' snapshot) and, for a
    day not over yet in the source (``core.fingerprints.complete_until``: its newest sample is before the day's
    last minute), the scope and the samples cut to its complete 10-minute buckets, so that no bucket whose
    minutes are not all past is written; ``NoCompleteBucketError`` (no run) when it has none yet."""
    if samples.fingerprints is None:  # an API from before the fingerprints: the whole day, as before
        return scope, samples
    record.fingerprints = samples.fingerprints.of_day(scope.run_date)
    until = complete_until(scope.run_date, samples.fingerprints.newest)
    if until is None:
        return scope, samples
    if until <= scope.start:
        raise NoCompleteBucketError(
            scope.run_date, scope.start, scope.end, samples.fingerprints.newest, scope.farm if fleet else None
        )
    record.complete_until = until
    keep = samples.values.index.get_level_values("timestamp") < until
    cut = Samples(samples.values[keep], samples.non_finite[keep], samples.version, samples.fingerprints)
    return replace(scope, end=until), cut


def _samples_and_log(
    client: httpx.Client, scope: RunScope, retry: RetryPolicy, source: Farm, events: bool
) -> tuple[Samples, pd.DataFrame | None]:
    """The scope's samples and (with ``events``, when there are samples) its status log, both checked against
    ``source``'s version. The log is asked for on a second connection while the samples stream in (the client
    is thread-safe), so a run with KPIs does not wait for one answer after the other; it is always asked for,
    also when the samples' answer then fails."""
    if not events:
        return fetch_day(client, scope, list(SOURCE_VARIABLES), retry=retry, farm=source), None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="etl-status-log") as pool:
        log = pool.submit(fetch_events, client, scope, retry=retry, farm=source)
        # When the samples fail, the pool still waits for the log's answer (its own retries bound it), unused.
        samples = fetch_day(client, scope, list(SOURCE_VARIABLES), retry=retry, farm=source)
        return samples, (log.result() if len(samples) else None)


def read_source(
    client: httpx.Client, scope: RunScope, retry: RetryPolicy, record: RunRecord, *, events: bool = True
) -> tuple[Site, bool, Farm, list[Turbine], RunScope, Samples, pd.DataFrame | None]:
    """The scope's farm of the fleet (``choose_farm``) and whether the fleet holds several, the farm's turbines
    (all of them, and the scope's of them), the scope covering those turbines, the day's samples and (with
    ``events``, when there are samples) its status log, of one state of the source: when the farm's turbines,
    the samples or the log come from another version than the fleet's farms (a seed landed between the reads,
    or while one was retried), all are read again, up to ``SNAPSHOT_READS`` times; then
    ``SourceChangedError``. ``record`` learns the farm, the turbines and the version."""
    for read in range(1, SNAPSHOT_READS + 1):
        farms = fetch_farms(client, retry=retry)
        if not farms:  # an empty source: no day to run, nothing to ask for
            raise no_samples_error(client, scope.run_date, retry)
        site = choose_farm(farms, scope.farm)
        record.farm = site.name
        try:
            source = fetch_farm(client, retry=retry, farm=site.name)
            if farms.version is not None and source.version != farms.version:
                raise SourceChangedError(farms.version, source.version, scope.run_date)
            farm = select_turbines(source, scope.at(site.name))
            if not farm:  # a farm without turbines (or none of the turbines named): no day to run
                raise no_samples_error(client, scope.run_date, retry, site.name if len(farms) > 1 else None)
            covered = scope.at(site.name).covering([turbine.name for turbine in farm])
            record.turbines, record.source_version = list(covered.turbines), source.version
            # Ambient temperature too: the ETL does not aggregate it, but its checks are in the report.
            samples, log = _samples_and_log(client, covered, retry, source, events)
            return site, len(farms) > 1, source, farm, covered, samples, log
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
