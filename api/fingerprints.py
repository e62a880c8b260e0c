"""The source's change tracking as the API reads it: each (turbine, UTC day)'s fingerprint (rows, checksum,
newest sample; kept by triggers in the source, revision 0007, docs/live.md) and the selection's newest sample,
read by ``/fingerprints`` and, in the same snapshot as its samples, by ``/data``."""

from __future__ import annotations

import datetime as dt

from etl_lib.core.contract import FARM_TABLE, FINGERPRINT_TABLE, SOURCE_STATE_TABLE, TURBINE_TABLE

# An answer's snapshot, locked in the order etl seed takes them (``api.farm``; the seed's TRUNCATE of ``data``
# empties the fingerprints by its trigger, after the fleet's tables, before the version).
FINGERPRINT_TABLES = (TURBINE_TABLE, FARM_TABLE, FINGERPRINT_TABLE, SOURCE_STATE_TABLE)
_CHECKSUM_MODULUS = 1 << 64
# %(name)s parameters: the driver's own form, run on psycopg2's cursor (/data) and through SQLAlchemy's
# ``exec_driver_sql`` (/fingerprints) alike.
FINGERPRINTS_QUERY = (
    f'SELECT f.turbine_id, f.day, f.row_count, f.checksum, f.last_timestamp FROM "{FINGERPRINT_TABLE}" f '
    "WHERE f.day >= %(first)s AND f.day <= %(last)s AND f.turbine_id = ANY(%(ids)s) ORDER BY f.day, f.turbine_id"
)
NEWEST_QUERY = f'SELECT max(f.last_timestamp) FROM "{FINGERPRINT_TABLE}" f WHERE f.day >= %(first)s AND f.turbine_id = ANY(%(ids)s)'


def days_touched(start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date]:
    """The first and the last UTC day (both included: the last may be 9999-12-31) an interval ``[start, end)``
    of instants touches."""
    return start.astimezone(dt.UTC).date(), (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()


def checksum_text(checksum: int) -> str:
    """A checksum as 16 hexadecimal digits (its 64 bits; exact in any JSON reader, unlike a 64-bit number)."""
    return format(checksum % _CHECKSUM_MODULUS, "016x")


def fingerprint_rows(cursor, ids: dict[str, int], first: dt.date, last: dt.date) -> list[dict]:
    """The fingerprints of the turbines ``ids`` (by name) on the days ``first`` to ``last`` (included), by day then turbine id:
    ``turbine, day, rows, checksum, last_timestamp``. ``cursor``: a DB-API cursor inside the answer's snapshot."""
    names = {turbine_id: name for name, turbine_id in ids.items()}
    cursor.execute(FINGERPRINTS_QUERY, {"first": first, "last": last, "ids": list(ids.values())})
    return [
        {
            "turbine": names[turbine_id],
            "day": day.isoformat(),
            "rows": rows,
            "checksum": checksum_text(checksum),
            "last_timestamp": None if last is None else last.astimezone(dt.UTC).isoformat(),
        }
        for turbine_id, day, rows, checksum, last in cursor.fetchall()
    ]


def newest_sample(cursor, ids: dict[str, int], first: dt.date) -> str | None:
    """The newest sample of the turbines ``ids`` on ``first`` or later (ISO-8601, UTC), or None: how far the
    source has come, which tells a day that is not over yet (docs/live.md)."""
    cursor.execute(NEWEST_QUERY, {"first": first, "ids": list(ids.values())})
    newest = cursor.fetchone()[0]
    return None if newest is None else newest.astimezone(dt.UTC).isoformat()
