"""Run dates: parsing with clear errors, and the UTC day as a half-open interval ``[start, end)``."""

from __future__ import annotations

import datetime as dt
import re

from .errors import InvalidDateError

# ASCII digits only: ``\d`` would also take "２０２４-１０-０１" (full-width) or Arabic-Indic digits.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# The earliest run date accepted. Archives of one-minute turbine samples start in the 2000s, so an
# earlier date is a slip of the year (1924 typed for 2024) that would otherwise be run and recorded
# as a failed day, or thousands of them in a backfill. 2000-01-01 rather than the Unix epoch: it
# catches every 19xx slip and still admits any real archive.
EARLIEST_RUN_DATE = dt.date(2000, 1, 1)
# The longest range one command processes or generates unless told otherwise: ten years of days.
MAX_RANGE_DAYS = 3660


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_run_date(value: object, *, today: dt.date | None = None) -> dt.date:
    """Turn ``2024-10-01`` (str, date or datetime) into a date; refuse malformed (ASCII digits only),
    impossible, future dates (after ``today``: today itself is a day not over yet, run up to its last complete
    bucket, docs/live.md) and dates before ``EARLIEST_RUN_DATE``."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        run_date = value
    else:
        text = str(value).strip()
        if not _ISO_DATE.fullmatch(text):
            raise InvalidDateError(
                f"Run date {value!r} is not a date in the form YYYY-MM-DD (ASCII digits 0-9).",
                "Pass a date like 2024-10-01 (papermill: -p date 2024-10-01, quoted if your shell needs it).",
                value=value,
            )
        try:
            run_date = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise InvalidDateError(
                f"Run date {text!r} does not exist on the calendar ({exc}).",
                "Check the day and month, e.g. 2024-02-29 exists but 2024-02-30 does not.",
                value=value,
            ) from None
    if run_date < EARLIEST_RUN_DATE:
        raise InvalidDateError(
            f"Run date {run_date.isoformat()} is before {EARLIEST_RUN_DATE.isoformat()}, the earliest date accepted.",
            "Check the year (e.g. 1924 typed for 2024).",
            value=value,
        )
    today = today or utc_now().date()
    if run_date > today:
        raise InvalidDateError(
            f"Run date {run_date.isoformat()} is not over yet in UTC: it has not even begun (today is "
            f"{today.isoformat()}).",
            "Run a day up to today; a day not over yet is run up to its last complete 10-minute bucket.",
            value=value,
        )
    return run_date


def day_bounds(run_date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC day ``[D 00:00Z, D+1 00:00Z)``."""
    start = dt.datetime.combine(run_date, dt.time(0), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)
