"""Dagster follows the source: the observable source asset ``source_days`` (farm x day), its observation job
and schedule, the automation that re-materializes a farm's day whose source changed, and the freshness check.

``source_days`` has a data version per farm's day: a digest of the day's fingerprints (each turbine's row count
and checksum, ``GET /fingerprints``; see docs/live.md), read in one request over the source's coverage, never
by reading samples. An observation records a version only for the days whose version differs from the last one
Dagster holds (one query of its event log): Dagster's automation takes every observation of a partition for
an update, whatever its version (dagster #28063), so observing an unchanged day would re-run it.

``daily_statistics`` depends on ``source_days`` partition by partition and carries
``AutomationCondition.eager()`` without its ``in_latest_time_window`` part (which would limit it to the
newest day): a farm's day whose version changed, an old one included, is materialized again, and the KPIs
after it. The sensor ``follow_the_source`` evaluates these conditions; the schedule ``observe_source``
observes every minute. Both run as soon as the daemon does (``make dagster``).

The check ``source_freshness`` compares, per farm, the end of the source's newest complete 10-minute bucket
with the end of the target's newest bucket, and fails (a warning) when the target lags by more than
``ETL_DAGSTER_FRESHNESS_MINUTES``: in the data's time, so an accelerated feed is judged like a real one.
"""

# No `from __future__ import annotations`: Dagster reads the type hints.
import datetime as dt
import warnings
from collections.abc import Sequence

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetRecordsFilter,
    AssetsDefinition,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    BetaWarning,
    DataVersionsByPartition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    MetadataValue,
    MultiPartitionsDefinition,
    ScheduleDefinition,
    TimeWindowPartitionsDefinition,
    asset_check,
    define_asset_job,
    observable_source_asset,
)
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.events import DagsterEventType

from ..config.settings import get_settings
from ..core.contract import BUCKET
from ..core.dates import utc_now
from ..core.fingerprints import SourceFingerprints, data_version
from ..pipeline.extract import fetch_fingerprints
from ..storage.query import newest_buckets
from ..storage.run_record import recorded_fingerprints
from ..storage.target import ensure_target_schema
from .coverage import DAY, FARM, partition_key
from .resources import SourceApi, TargetDatabase

SOURCE_DAYS = "source_days"
OBSERVE_JOB = "observe_source"
OBSERVE_CRON = "* * * * *"  # every minute: the finest a schedule ticks
FOLLOW_SENSOR = "follow_the_source"
FRESHNESS_JOB = "source_freshness_job"


def follows_the_source() -> AutomationCondition:
    """Materialize a partition when its source day changed, old days included (``eager()`` alone only looks at
    the newest time window), never while it runs, never for a day the source has no version of."""
    return AutomationCondition.eager().without(AutomationCondition.in_latest_time_window())


NUDGE = "~"  # a version observed again: the source's version, NUDGE and the instant (a new version to Dagster)


def source_version(observed: str | None) -> str | None:
    """The source's version an observation recorded (without the mark of a repeated observation)."""
    return None if observed is None else observed.partition(NUDGE)[0]


def changed_versions(now: dict[str, str], seen: dict[str, str]) -> dict[str, str]:
    """The partitions whose version ``now`` differs from the one last ``seen`` (new ones included)."""
    return {key: version for key, version in now.items() if source_version(seen.get(key)) != version}


def read_by_runs(
    target_database: TargetDatabase, farms, first: dt.date, end: dt.date
) -> dict[str, tuple[str | None, dt.datetime]]:
    """Per partition: the version of what the newest succeeded run of that farm's day read (None: a run from before
    the fingerprints) and when it finished; one query per farm."""
    engine = target_database.get_engine()
    ensure_target_schema(engine)
    read = {}
    for farm in farms:
        for day, recorded in recorded_fingerprints(engine, farm, first, end).items():
            version = None if recorded.fingerprints is None else data_version(recorded.fingerprints)
            read[str(partition_key(farm, day))] = (version, recorded.finished_at)
    return read


def overtaken(
    instance, now: dict[str, str], seen: dict[str, str], read: dict[str, tuple], retry_after: dt.timedelta
) -> dict[str, str]:
    """The partitions to observe again (with a new mark, ``NUDGE``) although the source's version did not change:
    the target's newest run of the day
    read another version (it began before the change), and either it finished after the day's last observation,
    or that observation is ``retry_after`` old. Dagster's automation misses such a day: when the run's
    materialization and the change's observation fall between two of its ticks, it takes the one for the
    handling of the other (and a failed run leaves the day behind until it is tried again)."""
    candidates = [
        key
        for key, version in now.items()
        if source_version(seen.get(key)) == version and key in read and read[key][0] != version
    ]
    if not candidates:
        return {}
    observed: dict[str, float] = {}
    records = instance.fetch_observations(
        AssetRecordsFilter(asset_key=AssetKey(SOURCE_DAYS), asset_partitions=candidates), limit=100 * len(candidates)
    ).records
    for record in records:  # newest first
        observed.setdefault(record.partition_key, record.timestamp)
    instant = utc_now().timestamp()
    old = instant - retry_after.total_seconds()
    return {  # a version Dagster has not seen: an observation of the same one would not count as a change
        key: f"{now[key]}{NUDGE}{instant:.0f}"
        for key in candidates
        if read[key][1].timestamp() > observed.get(key, float("-inf")) or observed.get(key, float("-inf")) <= old
    }


def partition_days(days: TimeWindowPartitionsDefinition) -> tuple[dt.date, dt.date]:
    """The first partition day of ``days`` and the day after its last."""
    return (
        dt.date.fromisoformat(days.get_first_partition_key()),
        dt.date.fromisoformat(days.get_last_partition_key()) + dt.timedelta(days=1),
    )


def farm_fingerprints(
    source_api: SourceApi, farms: Sequence[str], days: TimeWindowPartitionsDefinition
) -> dict[str, SourceFingerprints]:
    """Each farm's fingerprints over every partition day of ``days``: one request per farm, each in one snapshot."""
    first, end = partition_days(days)
    settings = source_api.apply_to(get_settings())
    with source_api.get_client() as client:
        return {farm: fetch_fingerprints(settings, first, end, farm, client=client) for farm in farms}


def build_source_days(
    partitions: MultiPartitionsDefinition, retry_after: dt.timedelta = dt.timedelta(minutes=5)
) -> AssetsDefinition:
    """The observable source asset over ``partitions`` (farm x day); a day the target lags although its run came
    after the change is observed again after ``retry_after`` (``overtaken``)."""
    farms = partitions.get_partitions_def_for_dimension(FARM).get_partition_keys()
    days = partitions.get_partitions_def_for_dimension(DAY)
    with warnings.catch_warnings():  # observable source assets and versions by partition are beta in 1.13
        warnings.filterwarnings("ignore", category=BetaWarning)

        @observable_source_asset(
            name=SOURCE_DAYS,
            partitions_def=partitions,
            group_name="wind_etl",
            description="The source's samples of each farm's UTC day, as the API's fingerprints say them: a data "
            "version per farm's day (each turbine's row count and checksum), recorded when it changes. "
            "daily_statistics follows it: a day whose version changed is materialized again (docs/live.md).",
        )
        def source_days(context, source_api: SourceApi, target_database: TargetDatabase) -> DataVersionsByPartition:
            now = {}
            for farm, prints in farm_fingerprints(source_api, farms, days).items():
                for day, turbines in prints.by_day().items():
                    recorded = {turbine: f.recorded() for turbine, f in turbines.items()}
                    now[str(partition_key(farm, day))] = data_version(recorded)
            seen = {
                key: tags[DATA_VERSION_TAG]
                for key, tags in context.instance.event_log_storage.get_latest_tags_by_partition(
                    AssetKey(SOURCE_DAYS), DagsterEventType.ASSET_OBSERVATION, [DATA_VERSION_TAG]
                ).items()
                if DATA_VERSION_TAG in tags
            }
            changed = changed_versions(now, seen)
            read = read_by_runs(target_database, farms, *partition_days(days))
            changed.update(overtaken(context.instance, now, seen, read, retry_after))
            context.log.info(
                f"{len(now)} farm-day(s) in the source, {len(changed)} new or changed since the last observation"
                + (f": {', '.join(sorted(changed)[:20])}" + (" ..." if len(changed) > 20 else "") if changed else "")
            )
            return DataVersionsByPartition(changed)

    return source_days


def build_observation(source_days: AssetsDefinition):
    """The job that observes ``source_days`` and its schedule (every minute, running with the daemon)."""
    job = define_asset_job(
        OBSERVE_JOB,
        selection=AssetSelection.assets(SOURCE_DAYS),
        description="Observe the source: record a new data version for each farm's day whose fingerprints changed.",
    )
    schedule = ScheduleDefinition(
        name=OBSERVE_JOB,
        job=job,
        cron_schedule=OBSERVE_CRON,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Observes the source every minute, so that a day whose samples changed is materialized again.",
    )
    return job, schedule


def build_follow_sensor() -> AutomationConditionSensorDefinition:
    """The sensor that evaluates the daily assets' automation conditions (running with the daemon)."""
    return AutomationConditionSensorDefinition(
        FOLLOW_SENSOR,
        target=AssetSelection.all(),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Materializes daily_statistics (and the KPIs after it) for each farm's day whose source changed.",
    )


def freshness_lags(
    source_newest: dict[str, dt.datetime], target_newest: dict[str, dt.datetime | None]
) -> dict[str, dt.timedelta]:
    """Per farm: how far the end of the target's newest bucket lags the end of the source's newest complete
    bucket (zero when it does not); a farm the target has nothing of lags by its whole source."""
    lags = {}
    for farm, newest_sample in source_newest.items():
        complete_until = _bucket_floor(newest_sample + dt.timedelta(minutes=1))
        written_until = target_newest.get(farm)
        if written_until is None:
            lags[farm] = dt.timedelta.max
        else:
            lags[farm] = max(complete_until - (written_until + BUCKET), dt.timedelta(0))
    return lags


def _bucket_floor(instant: dt.datetime) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=instant.tzinfo)
    return instant - (instant - epoch) % BUCKET


def build_freshness(daily_statistics: AssetsDefinition, partitions: MultiPartitionsDefinition):
    """The check ``source_freshness`` (evaluated every five minutes by the automation) and a job of it alone."""
    check = _freshness_check(daily_statistics, partitions)
    job = define_asset_job(
        FRESHNESS_JOB,
        selection=AssetSelection.checks(check),
        description="Only the check source_freshness: does each farm's target keep up with its source?",
    )
    return check, job


def _freshness_check(daily_statistics: AssetsDefinition, partitions: MultiPartitionsDefinition):
    farms = partitions.get_partitions_def_for_dimension(FARM).get_partition_keys()
    days = partitions.get_partitions_def_for_dimension(DAY)

    @asset_check(
        asset=daily_statistics,
        name="source_freshness",
        blocking=False,
        description="Whether each farm's newest written 10-minute bucket lags the source's newest complete bucket by "
        "more than ETL_DAGSTER_FRESHNESS_MINUTES (in the data's time).",
        automation_condition=AutomationCondition.cron_tick_passed("*/5 * * * *", "UTC"),
    )
    def source_freshness(source_api: SourceApi, target_database: TargetDatabase) -> AssetCheckResult:
        limit = dt.timedelta(minutes=get_settings().dagster_freshness_minutes)
        source_newest = {
            farm: prints.newest
            for farm, prints in farm_fingerprints(source_api, farms, days).items()
            if prints.newest is not None
        }
        target_newest = newest_buckets(target_database.get_engine(), list(source_newest))
        lags = freshness_lags(source_newest, target_newest)
        late = {farm: lag for farm, lag in lags.items() if lag > limit}
        shown = {
            farm: "nothing written" if lag == dt.timedelta.max else f"{lag.total_seconds() / 60:.0f} min"
            for farm, lag in lags.items()
        }
        return AssetCheckResult(
            passed=not late,
            severity=AssetCheckSeverity.WARN,
            description=(
                f"Every farm's target is within {limit} of its source."
                if not late
                else "Behind the source by more than "
                + f"{limit}: "
                + ", ".join(f"{farm} {shown[farm]}" for farm in late)
                + ". What to do: materialize the lagging days (the automation does when its sensor runs), or "
                "run `etl sync`."
            ),
            metadata={
                "lag": MetadataValue.json(shown),
                "source newest": MetadataValue.json({f: t.isoformat() for f, t in source_newest.items()}),
            },
        )

    return source_freshness
