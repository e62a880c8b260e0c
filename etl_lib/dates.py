"""Run dates: parsing with clear errors, and the UTC day as a half-open interval."""

from __future__ import annotations

import datetime as dt
import re

from .errors import InvalidDateError

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_run_date(value: object, *, today: dt.date | None = None) -> dt.date:
    """Turn ``2024-10-01`` (str, date or datetime) into a date; refuse malformed, impossible or future dates."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        run_date = value
    else:
        text = str(value).strip()
        if not _ISO_DATE.match(text):
            raise InvalidDateError(
                f"Run date {value!r} is not a date in the form YYYY-MM-DD.",
                "Pass a date like 2024-10-01 (papermill: -p date 2024-10-01, quoted if your shell needs it).",
            )
        try:
            run_date = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise InvalidDateError(
                f"Run date {text!r} does not exist on the calendar ({exc}).",
                "Check the day and month, e.g. 2024-02-29 exists but 2024-02-30 does not.",
            ) from None
    today = today or dt.datetime.now(dt.timezone.utc).date()
    if run_date >= today:
        raise InvalidDateError(
            f"Run date {run_date.isoformat()} is not over yet in UTC (today is {today.isoformat()}).",
            "Run a day that has ended; the ETL processes whole UTC days.",
        )
    return run_date


def day_bounds(run_date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC day ``[D 00:00Z, D+1 00:00Z)``."""
    start = dt.datetime.combine(run_date, dt.time(0), tzinfo=dt.timezone.utc)
    return start, start + dt.timedelta(days=1)
