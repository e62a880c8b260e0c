"""What the source holds, as Dagster needs to know it: the partitions farm x day, the farms of the source
(GET /farms) and the days of its coverage (GET /coverage; ``pipeline.coverage`` asks it, and whether a
farm's day has samples at all, for every caller).

The partitions are decided when Dagster loads the definitions: every farm of the source, times the UTC
days from the first with a sample to today, the day not over included (an open end: the days grow with the
calendar, so a live source's new day needs no reload; a day without samples is skipped when run). Loading never fails on the API's
account: when it cannot be asked (down, refusing, empty source), the partitions are the default farm
over the default seeded period and ``SourcePartitions.note`` says why, for the asset's description and
the log. A partition's key names both (``MultiPartitionKey``: ``2024-10-02|WF01``, day first, as
Dagster orders the dimensions by name); ``farm_day`` reads it back.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import cached_property

from dagster import (
    DailyPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
)

from ..config.settings import Settings
from ..core.contract import DEFAULT_FARM, DEFAULT_PERIOD_DAYS, DEFAULT_PERIOD_START
from ..core.errors import EtlError
from ..pipeline.coverage import SourceCoverage, fetch_coverage
from ..pipeline.extract import RetryPolicy, fetch_farms, make_client

log = logging.getLogger(__name__)

# Asking the API while Dagster loads the definitions: briefly, so that a missing API costs
# seconds of loading, not the ETL's full retry budget.
LOAD_TIMEOUT_SECONDS = 5.0
LOAD_RETRY = RetryPolicy(retries=1, backoff=0.2, deadline=LOAD_TIMEOUT_SECONDS)
RELOAD_HINT = "reload the definitions (UI: Deployment, Reload; or restart `make dagster`)"
FARM, DAY = "farm", "day"  # the partitions' dimensions


@dataclass(frozen=True)
class SourcePartitions:
    days: DailyPartitionsDefinition
    note: str  # how they were decided, in a sentence for the UI
    farms: tuple[str, ...] = (DEFAULT_FARM,)

    @cached_property
    def definition(self) -> MultiPartitionsDefinition:
        """The partitions farm x day of the daily assets."""
        return farm_days(self.farms, self.days)

    @property
    def fleet(self) -> bool:
        """Whether the source held several farms when these partitions were decided."""
        return len(self.farms) > 1


def farm_days(farms, days: DailyPartitionsDefinition) -> MultiPartitionsDefinition:
    """Each farm of ``farms`` times each day of ``days``."""
    return MultiPartitionsDefinition({FARM: StaticPartitionsDefinition(list(farms)), DAY: days})


def partition_key(farm: str, day: dt.date | str) -> MultiPartitionKey:
    """The partition of the farm's day."""
    return MultiPartitionKey({FARM: farm, DAY: day if isinstance(day, str) else day.isoformat()})


def farm_day(key) -> tuple[str, dt.date]:
    """The farm and the day of a partition's key: a ``MultiPartitionKey``, or its text ``2024-10-02|WF01`` (as a
    run's tag ``dagster/partition`` holds it)."""
    keys = getattr(key, "keys_by_dimension", None)
    if keys is None:
        day, _, farm = str(key).partition("|")
        keys = {DAY: day, FARM: farm}
    return keys[FARM], dt.date.fromisoformat(keys[DAY])


def _daily(first: dt.date, end: dt.date) -> DailyPartitionsDefinition:
    """UTC days ``[first, end)``; at least one."""
    end = max(end, first + dt.timedelta(days=1))
    return DailyPartitionsDefinition(start_date=first.isoformat(), end_date=end.isoformat(), timezone="UTC")


def partitions_for(coverage: SourceCoverage) -> DailyPartitionsDefinition:
    """The source's days, from the first with a sample to today, the day not over included (``end_offset=1``): a
    live source's new day is a partition as soon as it begins, without reloading the definitions."""
    return DailyPartitionsDefinition(start_date=coverage.first.date().isoformat(), end_offset=1, timezone="UTC")


def default_partitions() -> DailyPartitionsDefinition:
    """The period ``etl seed`` fills by default."""
    return _daily(DEFAULT_PERIOD_START, DEFAULT_PERIOD_START + dt.timedelta(days=DEFAULT_PERIOD_DAYS))


def source_partitions(settings: Settings) -> SourcePartitions:
    """The partitions farm x day as the source is now; the default farm over the default period (and why) when
    it cannot say."""
    default = default_partitions()
    period = f"{default.get_first_partition_key()} to {default.get_last_partition_key()}"
    try:
        with make_client(settings.model_copy(update={"http_timeout": LOAD_TIMEOUT_SECONDS})) as client:
            coverage = fetch_coverage(client, LOAD_RETRY)
            farms = tuple(site.name for site in fetch_farms(client, retry=LOAD_RETRY))
    except (EtlError, ValueError) as exc:  # ValueError: an answer that is no coverage
        problem = str(exc).splitlines()[0]
        note = (
            f"The source's coverage could not be read when these definitions loaded ({problem}), so the "
            f"partitions are the default period, {period}, of the farm {DEFAULT_FARM}. Start the API (`etl stack "
            f"up`, `etl doctor` says what is down), then {RELOAD_HINT}."
        )
        log.warning(note)
        return SourcePartitions(default, note)
    if coverage.empty or not farms:
        note = (
            f"The source was empty when these definitions loaded, so the partitions are the default period, "
            f"{period}, of the farm {DEFAULT_FARM}. Fill it (`etl seed`), then {RELOAD_HINT}."
        )
        log.warning(note)
        return SourcePartitions(default, note)
    fleet = f"its {len(farms)} farms ({', '.join(farms)}) and " if len(farms) > 1 else f"its farm {farms[0]} and "
    note = (
        f"Partitions follow the source: when these definitions loaded, {fleet}{coverage.describe()}; the days run "
        f"to today, so a new day is a partition as it begins. When farms come or go, or days before the first, "
        f"{RELOAD_HINT}."
    )
    return SourcePartitions(partitions_for(coverage), note, farms)
