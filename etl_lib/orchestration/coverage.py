"""What the source holds, as Dagster needs to know it: its coverage (GET /coverage), the daily
partitions that follow it, and whether a day has samples at all.

The partitions are decided when Dagster loads the definitions: from the first UTC day with a
sample to the last complete day with one. Loading never fails on the API's account: when it
cannot be asked (down, refusing, empty source), the partitions are the default seeded period
and ``SourcePartitions.note`` says why, for the asset's description and the log.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import httpx
from dagster import DailyPartitionsDefinition

from ..config.settings import Settings
from ..core.contract import DEFAULT_PERIOD_DAYS, DEFAULT_PERIOD_START, SOURCE_VARIABLES
from ..core.dates import day_bounds, utc_now
from ..core.errors import EtlError, NoSourceDataError
from ..core.scope import RunScope
from ..pipeline.extract import RetryPolicy, fetch_day, fetch_farm, get, make_client

log = logging.getLogger(__name__)

# Asking the API while Dagster loads the definitions: briefly, so that a missing API costs
# seconds of loading, not the ETL's full retry budget.
LOAD_TIMEOUT_SECONDS = 5.0
LOAD_RETRY = RetryPolicy(retries=1, backoff=0.2, deadline=LOAD_TIMEOUT_SECONDS)
RELOAD_HINT = "reload the definitions (UI: Deployment, Reload; or restart `make dagster`)"


@dataclass(frozen=True)
class SourceCoverage:
    """The API's answer to GET /coverage: first and last sample, and how many rows."""

    first: dt.datetime | None
    last: dt.datetime | None
    rows: int

    @property
    def empty(self) -> bool:
        return self.rows == 0 or self.first is None or self.last is None

    def includes(self, day: dt.date) -> bool:
        return not self.empty and self.first.date() <= day <= self.last.date()

    def describe(self) -> str:
        if self.empty:
            return "the source is empty"
        return f"the source covers {self.first.date().isoformat()} to {self.last.date().isoformat()} ({self.rows:,} samples)"


def fetch_coverage(client: httpx.Client, retry: RetryPolicy) -> SourceCoverage:
    """GET /coverage; the project's errors (``SourceUnavailableError``, ...) when it fails."""
    payload = get(client, "/coverage", {}, retry=retry).json()
    return SourceCoverage(_instant(payload.get("first")), _instant(payload.get("last")), int(payload.get("rows") or 0))


def _instant(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC) if value else None


def samples_on(client: httpx.Client, day: dt.date, retry: RetryPolicy) -> int:
    """How many samples the farm has on the UTC day (one variable asked: a row is a sample)."""
    farm = fetch_farm(client, retry=retry)
    if not farm.names:
        return 0
    scope = RunScope.day(day, farm.names)
    return len(fetch_day(client, scope, list(SOURCE_VARIABLES[:1]), retry=retry, farm=farm))


def no_source_data(day: dt.date, coverage: SourceCoverage | None) -> str:
    """Why a day is skipped: the project's own message for it (with its advice), and the coverage."""
    message = str(NoSourceDataError(day, *day_bounds(day)))
    return f"{message}\n  Now {coverage.describe()}." if coverage is not None else message


@dataclass(frozen=True)
class SourcePartitions:
    definition: DailyPartitionsDefinition
    note: str  # how they were decided, in a sentence for the UI


def _daily(first: dt.date, end: dt.date) -> DailyPartitionsDefinition:
    """UTC days ``[first, end)``; at least one."""
    end = max(end, first + dt.timedelta(days=1))
    return DailyPartitionsDefinition(start_date=first.isoformat(), end_date=end.isoformat(), timezone="UTC")


def partitions_for(coverage: SourceCoverage, today: dt.date) -> DailyPartitionsDefinition:
    """The source's days, from the first with a sample to the last complete one with a sample."""
    return _daily(coverage.first.date(), min(coverage.last.date() + dt.timedelta(days=1), today))


def default_partitions() -> DailyPartitionsDefinition:
    """The period ``etl seed`` fills by default."""
    return _daily(DEFAULT_PERIOD_START, DEFAULT_PERIOD_START + dt.timedelta(days=DEFAULT_PERIOD_DAYS))


def source_partitions(settings: Settings, today: dt.date | None = None) -> SourcePartitions:
    """The daily partitions as the source is now; the default period (and why) when it cannot say."""
    today = today or utc_now().date()
    default = default_partitions()
    period = f"{default.get_first_partition_key()} to {default.get_last_partition_key()}"
    try:
        with make_client(settings.model_copy(update={"http_timeout": LOAD_TIMEOUT_SECONDS})) as client:
            coverage = fetch_coverage(client, LOAD_RETRY)
    except (EtlError, ValueError) as exc:  # ValueError: an answer that is no coverage
        problem = str(exc).splitlines()[0]
        note = (
            f"The source's coverage could not be read when these definitions loaded ({problem}), so the "
            f"partitions are the default period, {period}. Start the API (`etl stack up`, `etl doctor` says "
            f"what is down), then {RELOAD_HINT}."
        )
        log.warning(note)
        return SourcePartitions(default, note)
    if coverage.empty:
        note = (
            f"The source was empty when these definitions loaded, so the partitions are the default period, "
            f"{period}. Fill it (`etl seed`), then {RELOAD_HINT}."
        )
        log.warning(note)
        return SourcePartitions(default, note)
    note = (
        f"Partitions follow the source: when these definitions loaded, {coverage.describe()}. When it grows "
        f"or shrinks, {RELOAD_HINT}."
    )
    return SourcePartitions(partitions_for(coverage, today), note)
