"""Parsing and checking query parameters, with messages that say what to send instead."""

from __future__ import annotations

import datetime as dt

from fastapi import HTTPException

from etl_lib.source_schema import SOURCE_VARIABLES

VALID = ", ".join(SOURCE_VARIABLES)


def bad_request(message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=message)


def parse_instant(name: str, value: str) -> dt.datetime:
    """ISO-8601 instant; a naive one is taken as UTC."""
    try:
        instant = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise bad_request(
            f"Parameter '{name}' = {value[:64]!r} is not an ISO-8601 instant. "
            "Use e.g. 2024-10-01T00:00:00Z (a time without offset is taken as UTC)."
        ) from None
    if instant.tzinfo is None:
        return instant.replace(tzinfo=dt.timezone.utc)
    return instant.astimezone(dt.timezone.utc)


def parse_interval(start: str, end: str, max_days: int) -> tuple[dt.datetime, dt.datetime]:
    begin, finish = parse_instant("start", start), parse_instant("end", end)
    if begin >= finish:
        raise bad_request(
            f"'start' ({begin.isoformat()}) must be before 'end' ({finish.isoformat()}): "
            "the interval is half-open [start, end)."
        )
    if finish - begin > dt.timedelta(days=max_days):
        raise bad_request(
            f"The interval {begin.isoformat()} to {finish.isoformat()} is longer than the maximum of "
            f"{max_days} days. Page through it with several requests of at most {max_days} days."
        )
    return begin, finish


def parse_variables(values: list[str]) -> list[str]:
    """Accept repeated and comma-separated names; keep the caller's order, drop repeats."""
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    if not names:
        raise bad_request(f"No variable selected. Choose one or more of: {VALID}.")
    unknown = [name for name in names if name not in SOURCE_VARIABLES]
    if unknown:
        shown = ", ".join(repr(name[:64]) for name in unknown[:5])
        raise bad_request(f"Unknown variable(s) {shown}. Valid variables: {VALID}.")
    return names
