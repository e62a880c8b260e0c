"""Dagster definitions: the assets (the source's days, a farm's day's statistics, its KPIs, the farm's month's
KPIs), their checks, the jobs, the schedules and the sensor that follows the source, assembled (nothing more).

``dagster dev -m etl_lib.orchestration`` loads ``defs``; it is built when Dagster loads it, not at
import: its resources take their values from the project's settings at that moment, and its partitions
farm x day follow the source's farms and coverage as the API reports them then
(``coverage.source_partitions``; the default farm and period, and a note why, when the API cannot say).
"""

# No `from __future__ import annotations`: Dagster reads the type hints.
import datetime as dt

from dagster import (
    AssetSelection,
    Definitions,
    define_asset_job,
    definitions,
)

from ..config.settings import Settings, get_settings
from .assets import build_daily_statistics
from .checks import CHECKS_JOB, build_checks
from .coverage import SourcePartitions, source_partitions
from .execution import executor_for
from .kpis import build_daily_kpis, build_kpi_checks, build_monthly_kpis
from .resources import SourceApi, TargetDatabase
from .schedules import build_daily_schedule
from .source import (
    build_follow_sensor,
    build_freshness,
    build_observation,
    build_source_days,
    follows_the_source,
)


def build_defs(settings: Settings | None = None, partitions: SourcePartitions | None = None) -> Definitions:
    """Everything Dagster shows, for ``settings`` and the source's partitions (asked of the API if not given)."""
    settings = settings or get_settings()
    partitions = partitions or source_partitions(settings)
    source_days = build_source_days(partitions.definition, dt.timedelta(minutes=settings.dagster_stale_retry_minutes))
    follow = follows_the_source()
    daily_statistics = build_daily_statistics(
        partitions.definition, partitions.note, settings.dagster_days_per_run, source_days, follow
    )
    daily_kpis = build_daily_kpis(daily_statistics, partitions.definition, follow)
    monthly_kpis = build_monthly_kpis(daily_kpis, partitions.definition, follow)
    observe_job, observe_schedule = build_observation(source_days)
    freshness_check, freshness_job = build_freshness(daily_statistics, partitions.definition)
    checks = [
        *build_checks(daily_statistics, partitions.definition),
        *build_kpi_checks(daily_kpis, partitions.definition),
        freshness_check,
    ]
    daily_etl_job = define_asset_job(
        "daily_etl_job",
        selection=AssetSelection.assets(daily_statistics, daily_kpis),
        description="The ETL for one UTC day of one farm (a partition: farm x day), the day's KPIs, and their checks.",
    )
    # Checks alone: Dagster 1.13 gives a job without assets no partitions, so a run of it names its farm's
    # day with the tag Dagster sets on partitioned runs: --tags '{"dagster/partition": "2024-10-02|WF01"}'.
    daily_checks_job = define_asset_job(
        CHECKS_JOB,
        selection=AssetSelection.checks_for_assets(daily_statistics),
        description="Only the checks of one UTC day of one farm, against what the target and runs/ hold now. Name "
        'the day and the farm with the run tag {"dagster/partition": "YYYY-MM-DD|FARM"}.',
    )
    return Definitions(
        assets=[source_days, daily_statistics, daily_kpis, monthly_kpis],
        asset_checks=checks,
        jobs=[daily_etl_job, daily_checks_job, observe_job, freshness_job],
        schedules=[
            build_daily_schedule(daily_etl_job, partitions.definition, list(partitions.farms)),
            observe_schedule,
        ],
        sensors=[build_follow_sensor()],
        # By default the steps run in the run's own process: a process per step would import Dagster, pandas
        # and papermill again for the two checks, seconds each on a small machine. ETL_DAGSTER_EXECUTOR=celery
        # sends them to the workers (execution.py).
        executor=executor_for(settings),
        resources={
            "source_api": SourceApi.from_settings(settings),
            "target_database": TargetDatabase.from_settings(settings),
        },
    )


@definitions
def defs() -> Definitions:
    """What ``dagster dev -m etl_lib.orchestration`` loads, built from the settings when it loads."""
    return build_defs()
