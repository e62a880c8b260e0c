"""What the source holds, as Dagster needs to know it: the daily partitions that follow its coverage
(GET /coverage; ``pipeline.coverage`` asks it, and whether a day has samples at all, for every caller).

The partitions are decided when Dagster loads the definitions: from the first UTC day with a
sample to the last complete day with one. Loading never fails on the API's account: when it
cannot be asked (down, refusing, empty source), the partitions are the default seeded period
and ``SourcePartitions.note`` says why, for the asset's description and the log.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from dagster import DailyPartitionsDefinition

from ..config.settings import Settings
from ..core.contract import DEFAULT_PERIOD_DAYS, DEFAULT_PERIOD_START
from ..core.dates import utc_now
from ..core.errors import EtlError
from ..pipeline.coverage import SourceCoverage, fetch_coverage
from ..pipeline.extract import RetryPolicy, make_client

log = logging.getLogger(__name__)

# Asking the API while Dagster loads the definitions: briefly, so that a missing API costs
# seconds of loading, not the ETL's full retry budget.
LOAD_TIMEOUT_SECONDS = 5.0
LOAD_RETRY = RetryPolicy(retries=1, backoff=0.2, deadline=LOAD_TIMEOUT_SECONDS)
RELOAD_HINT = "reload the definitions (UI: Deployment, Reload; or restart `make dagster`)"


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
