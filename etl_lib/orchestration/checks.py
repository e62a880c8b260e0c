"""Dagster asset checks of each farm's day: every bucket written, and the day's quality above a threshold.

The verdicts themselves are plain functions (``verdicts``); here they meet Dagster. Like the asset,
the checks are built for the partitions known when Dagster loads the definitions.
"""

# No `from __future__ import annotations`: Dagster reads the type hints of checks.
import datetime as dt
import warnings
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetsDefinition,
    Config,
    Failure,
    MetadataValue,
    PartitionsDefinition,
    PreviewWarning,
    asset_check,
)
from pydantic import Field

from ..core.contract import BUCKETS_PER_DAY, ETL_VARIABLES, MIN_GOOD_SHARE, etl_signal_names
from ..core.errors import EtlError
from ..core.scope import RunScope
from ..pipeline.extract import fetch_day, fetch_farm
from ..storage.query import available_turbines, read_signals
from ..storage.run_record import standing_run
from .assets import record_metadata, report_metadata
from .coverage import farm_day
from .instance import TARGET_DATABASE_POOL
from .resources import SourceApi, TargetDatabase
from .verdicts import bucket_completeness, quality_verdict

CHECKS_JOB = "daily_checks_job"
NO_PARTITION = (
    "These checks verify one UTC day of one farm, and this run names none. Name it with the run tag "
    "dagster/partition (the day, then the farm), e.g. `dagster job execute -m etl_lib.orchestration -j "
    'daily_checks_job --tags \'{"dagster/partition": "2024-10-02|WF01"}\'` (in the launchpad: Edit tags); or run '
    "a partition of daily_etl_job, which checks its day after the ETL."
)


def checked_day(context: AssetCheckExecutionContext) -> tuple[str, dt.date]:
    """The run's farm and day; a run without them fails with how to name them, not Dagster's invariant error."""
    # A run of one partition names it with a tag, or as a range of one (the automation's backfills).
    if context.has_partition_key:
        key = context.partition_key
    elif context.has_partition_key_range and len(context.partition_keys) == 1:
        key = context.partition_keys[0]
    else:
        raise Failure(description=NO_PARTITION)
    try:
        return farm_day(key)
    except (KeyError, ValueError):
        raise Failure(description=f"The partition {key!r} is no farm's day. {NO_PARTITION}") from None


class QualityThreshold(Config):
    min_share: float = Field(
        MIN_GOOD_SHARE,
        ge=0.0,
        le=1.0,
        description="Least share (0..1) of a variable's samples that pass the quality checks.",
    )


def build_checks(asset: AssetsDefinition, partitions: PartitionsDefinition) -> list[AssetChecksDefinition]:
    """The day's two checks of ``asset``, over ``partitions``."""
    # Partitioned asset checks (one verdict per day) are a preview feature in Dagster 1.13; the pin in
    # constraints.txt keeps their behaviour fixed, so the warning each time they are built is only noise.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning
        )
        return _checks(asset, partitions)


def _checks(asset: AssetsDefinition, partitions: PartitionsDefinition) -> list[AssetChecksDefinition]:
    @asset_check(
        pool=TARGET_DATABASE_POOL,
        asset=asset,
        partitions_def=partitions,
        description=f"Every turbine of the farm has all {BUCKETS_PER_DAY} ten-minute buckets of each signal in "
        "the target that day; if not, which, how many and why.",
    )
    def all_buckets_written(
        context: AssetCheckExecutionContext, source_api: SourceApi, target_database: TargetDatabase
    ) -> AssetCheckResult:
        farm, day = checked_day(context)
        scope = RunScope.day(day, farm=farm)
        engine = target_database.get_engine()
        retry = source_api.retry()
        standing = standing_run(engine, day, farm)
        until = standing.get("complete_until") if standing else None  # a day not over: its complete part
        try:
            with source_api.get_client() as client:
                source = fetch_farm(client, retry=retry, farm=farm)
                turbines = source.names
                written = read_signals(
                    etl_signal_names(), scope.start, scope.end, engine=engine, wide=False, turbines=turbines
                )
                result = bucket_completeness(scope.run_date, turbines, written, until=until)
                if not result.passed:
                    samples = fetch_day(client, scope.covering(turbines), list(ETL_VARIABLES), retry=retry, farm=source)
                    result = bucket_completeness(scope.run_date, turbines, written, samples.values, until=until)
        except EtlError as exc:  # without the source: the farm's turbines the target knows, and why not more
            turbines = available_turbines(engine=engine, farm_name=farm)
            written = read_signals(
                etl_signal_names(), scope.start, scope.end, engine=engine, wide=False, turbines=turbines
            )
            result = bucket_completeness(
                scope.run_date, turbines, written, note=f"Why could not be worked out: {exc}", until=until
            )
        metadata: dict = {"buckets": MetadataValue.json(result.buckets)}
        if result.missing:
            metadata["missing_by_reason"] = MetadataValue.json(result.missing)
        severity = AssetCheckSeverity.WARN if result.explained_by_source else AssetCheckSeverity.ERROR
        return AssetCheckResult(
            passed=result.passed, severity=severity, description=result.describe(), metadata=metadata
        )

    @asset_check(
        pool=TARGET_DATABASE_POOL,
        asset=asset,
        partitions_def=partitions,
        description="Each turbine's share of good samples of each variable that day, as the run that stands for "
        "the farm's day (the latest succeeded run of the whole farm) recorded it in the target's etl_run, reaches "
        "min_share (a warning below it).",
    )
    def quality_above_threshold(
        context: AssetCheckExecutionContext, config: QualityThreshold, target_database: TargetDatabase
    ) -> AssetCheckResult:
        farm, day = checked_day(context)
        record = standing_run(target_database.get_engine(), day, farm)
        if record is None:
            return AssetCheckResult(
                passed=False,
                severity=AssetCheckSeverity.WARN,
                description=f"The target's etl_run holds no succeeded run of {day.isoformat()} of farm {farm}; "
                "materialize this partition first.",
            )
        where = f"the run record {record['id']}" + (f" (report {record['report']})" if record.get("report") else "")
        verdict = quality_verdict(record, config.min_share, where)
        metadata: dict = {"min_share": MetadataValue.float(config.min_share), **record_metadata(record)}
        if record.get("report"):
            metadata.update(report_metadata(Path(record["report"])))
        return AssetCheckResult(
            passed=verdict.passed, severity=AssetCheckSeverity.WARN, description=verdict.description, metadata=metadata
        )

    return [all_buckets_written, quality_above_threshold]
