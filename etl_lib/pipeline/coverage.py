"""What the source holds: its coverage (GET /coverage, of one farm or of all), and whether a farm's day has
samples at all.

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
    """The API's answer to GET /coverage: first and last sample, and how many rows (of the farm ``farm``; None:
    of the whole source)."""

    first: dt.datetime | None
    last: dt.datetime | None
    rows: int
    farm: str | None = None

    @property
    def empty(self) -> bool:
        return self.rows == 0 or self.first is None or self.last is None

    def includes(self, day: dt.date) -> bool:
        return not self.empty and self.first.date() <= day <= self.last.date()

    def describe(self) -> str:
        what = "the source" if self.farm is None else f"farm {self.farm}"
        if self.empty:
            return f"{what} has no samples" if self.farm else "the source is empty"
        return (
            f"{what} covers {self.first.date().isoformat()} to {self.last.date().isoformat()} ({self.rows:,} samples)"
        )


def fetch_coverage(client: httpx.Client, retry: RetryPolicy, farm: str | None = None) -> SourceCoverage:
    """GET /coverage (of the farm named ``farm``; None: of the whole source); the project's errors
    (``SourceUnavailableError``, ...) when it fails."""
    payload = get(client, "/coverage", {} if farm is None else {"farm": farm}, retry=retry).json()
    return SourceCoverage(
        _instant(payload.get("first")), _instant(payload.get("last")), int(payload.get("rows") or 0), farm
    )


def _instant(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC) if value else None


def samples_on(client: httpx.Client, day: dt.date, retry: RetryPolicy, farm: str | None = None) -> int:
    """How many samples the farm named ``farm`` (None: every farm) has on the UTC day (one variable asked: a row
    is a sample)."""
    turbines = fetch_farm(client, retry=retry, farm=farm)
    if not turbines.names:
        return 0
    scope = RunScope.day(day, turbines.names, farm)
    return len(fetch_day(client, scope, list(SOURCE_VARIABLES[:1]), retry=retry, farm=turbines))


def no_source_data(day: dt.date, coverage: SourceCoverage | None, farm: str | None = None) -> NoSourceDataError:
    """The project's error for a day without samples (of ``farm``), saying what the source covers when that is
    known."""
    return NoSourceDataError(day, *day_bounds(day), covers=None if coverage is None else coverage.describe(), farm=farm)


def no_samples_error(
    client: httpx.Client, day: dt.date, retry: RetryPolicy, farm: str | None = None
) -> NoSourceDataError:
    """``no_source_data`` for a day (of ``farm``) found empty, with the source's coverage if the API says it."""
    try:
        coverage = fetch_coverage(client, retry, farm)
    except (EtlError, ValueError):  # the error is about the day; what the source covers is a courtesy
        coverage = None
    return no_source_data(day, coverage, farm)


def day_without_data(
    client: httpx.Client,
    day: dt.date,
    retry: RetryPolicy,
    coverage: SourceCoverage | None = None,
    farm: str | None = None,
) -> NoSourceDataError | None:
    """None when the source has samples on ``day`` (of the farm named ``farm``; None: of any farm); else why not
    (``NoSourceDataError``, with what the source, or the farm, covers). A day outside the coverage costs one
    request (none when ``coverage`` is given, e.g. once per farm for a whole backfill); a day inside it one small
    /data request (a gap of whole days)."""
    coverage = coverage or fetch_coverage(client, retry, farm)
    if coverage.includes(day) and samples_on(client, day, retry, farm):
        return None
    return no_source_data(day, coverage, farm)
