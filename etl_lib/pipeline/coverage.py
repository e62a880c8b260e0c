"""What the source holds: its coverage (GET /coverage), and whether a day has samples at all.

A day without source data is not a run: ``etl run`` (through the notebook), ``etl backfill`` and
Dagster ask ``day_without_data`` before a day runs, so such a day is refused (or skipped) in about a
second, with what the source covers, before any kernel starts: no report, no record, nothing written.
``run_etl`` itself refuses it the same way when it finds no samples.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import httpx

from ..core.contract import SOURCE_VARIABLES
from ..core.dates import day_bounds
from ..core.errors import EtlError, NoSourceDataError
from ..core.scope import RunScope
from .extract import RetryPolicy, fetch_day, fetch_farm, get


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


def no_source_data(day: dt.date, coverage: SourceCoverage | None) -> NoSourceDataError:
    """The project's error for a day without samples, saying what the source covers when that is known."""
    return NoSourceDataError(day, *day_bounds(day), covers=None if coverage is None else coverage.describe())


def no_samples_error(client: httpx.Client, day: dt.date, retry: RetryPolicy) -> NoSourceDataError:
    """``no_source_data`` for a day found empty, with the source's coverage if the API says it."""
    try:
        coverage = fetch_coverage(client, retry)
    except (EtlError, ValueError):  # the error is about the day; what the source covers is a courtesy
        coverage = None
    return no_source_data(day, coverage)


def day_without_data(
    client: httpx.Client, day: dt.date, retry: RetryPolicy, coverage: SourceCoverage | None = None
) -> NoSourceDataError | None:
    """None when the source has samples on ``day``; else why not (``NoSourceDataError``, with what the
    source covers). A day outside the coverage costs one request (none when ``coverage`` is given,
    e.g. once for a whole backfill); a day inside it one small /data request (a gap of whole days)."""
    coverage = coverage or fetch_coverage(client, retry)
    if coverage.includes(day) and samples_on(client, day, retry):
        return None
    return no_source_data(day, coverage)
