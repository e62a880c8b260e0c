"""The daily schedule: at 00:15 UTC, the ETL for the day that just ended, if the source has it.

A day without source data (the default data is ten days of 2024) is a skipped tick with the
reason, not a failed run every night; a day the source has but the partitions loaded earlier do
not (the source grew since) is skipped too, saying to reload the definitions.
"""

# No `from __future__ import annotations`: Dagster reads the type hints of schedules.
import datetime as dt

from dagster import (
    PartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from ..core.dates import utc_now
from ..pipeline.coverage import day_without_data
from .coverage import RELOAD_HINT
from .resources import SourceApi

SCHEDULE_NAME = "daily_etl_schedule"


def day_to_run(context: ScheduleEvaluationContext) -> dt.date:
    """The UTC day that ended before the tick."""
    tick = context.scheduled_execution_time or utc_now()
    return (tick.astimezone(dt.UTC) - dt.timedelta(days=1)).date()


def build_daily_schedule(job, partitions: PartitionsDefinition) -> ScheduleDefinition:
    """The schedule of ``job`` (the asset job, resolved by Definitions) over ``partitions``."""

    @schedule(
        name=SCHEDULE_NAME,
        job=job,
        cron_schedule="15 0 * * *",
        execution_timezone="UTC",
        description="At 00:15 UTC, the ETL for the day that just ended; skipped, with the reason, when the "
        "source has no data for that day.",
    )
    def daily_etl_schedule(context: ScheduleEvaluationContext, source_api: SourceApi):
        day = day_to_run(context)
        retry = source_api.retry()
        with source_api.get_client() as client:  # an unreachable API fails the tick with its message
            missing = day_without_data(client, day, retry)
            if missing is not None:
                return SkipReason(str(missing))
        if not partitions.has_partition_key(day.isoformat()):
            return SkipReason(
                f"The source has data for {day.isoformat()}, but it is not one of the partitions loaded with these "
                f"definitions (the source has grown since): {RELOAD_HINT}, then launch the day's partition."
            )
        return RunRequest(run_key=day.isoformat(), partition_key=day.isoformat())

    return daily_etl_schedule
