"""The daily schedule: at 00:15 UTC, the ETL for the day that just ended, of every farm that has it: a run
per farm-day.

A day without source data (the default data is ten days of 2024) is a skipped tick with the
reason, not a failed run every night; a farm without the day is left out of the tick (a run for each
farm that has it); a day the source has but the partitions loaded earlier do not (the source grew
since) is skipped too, saying to reload the definitions.
"""

# No `from __future__ import annotations`: Dagster reads the type hints of schedules.
import datetime as dt

from dagster import (
    MultiPartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from ..core.dates import utc_now
from ..pipeline.coverage import day_without_data
from .coverage import DAY, RELOAD_HINT, partition_key
from .resources import SourceApi

SCHEDULE_NAME = "daily_etl_schedule"


def day_to_run(context: ScheduleEvaluationContext) -> dt.date:
    """The UTC day that ended before the tick."""
    tick = context.scheduled_execution_time or utc_now()
    return (tick.astimezone(dt.UTC) - dt.timedelta(days=1)).date()


def build_daily_schedule(job, partitions: MultiPartitionsDefinition, farms: list[str]) -> ScheduleDefinition:
    """The schedule of ``job`` (the asset job, resolved by Definitions) over ``partitions`` (farm x day) of
    ``farms``."""
    days = partitions.get_partitions_def_for_dimension(DAY)
    fleet = len(farms) > 1

    @schedule(
        name=SCHEDULE_NAME,
        job=job,
        cron_schedule="15 0 * * *",
        execution_timezone="UTC",
        description="At 00:15 UTC, the ETL for the day that just ended, a run per farm; a farm without data for "
        "that day is left out, and the tick is skipped, with the reason, when no farm has it.",
    )
    def daily_etl_schedule(context: ScheduleEvaluationContext, source_api: SourceApi):
        day = day_to_run(context)
        retry = source_api.retry()
        requests, reasons = [], []
        with source_api.get_client() as client:  # an unreachable API fails the tick with its message
            for farm in farms:
                missing = day_without_data(client, day, retry, farm=farm if fleet else None)
                if missing is None:
                    requests.append(farm)
                else:
                    reasons.append(str(missing))
        if not requests:
            return SkipReason("\n".join(reasons))
        if not days.has_partition_key(day.isoformat()):
            return SkipReason(
                f"The source has data for {day.isoformat()}, but it is not one of the partitions loaded with these "
                f"definitions (the source has grown since): {RELOAD_HINT}, then launch the day's partitions."
            )
        return [
            RunRequest(run_key=f"{day.isoformat()}|{farm}", partition_key=partition_key(farm, day)) for farm in requests
        ]

    return daily_etl_schedule
