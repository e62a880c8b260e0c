"""The status log as the API reads it from the source: the status codes with their IEC 61400-26-1
categories, and the events of chosen turbines that overlap an interval (read whole inside the request,
then sent as JSON that states its count last, like ``/data``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import orjson
from sqlalchemy import Connection, text

from etl_lib.core.contract import EVENT_TABLE, FARM_TABLE, SOURCE_STATE_TABLE, STATUS_CODE_TABLE, TURBINE_TABLE

# An answer's snapshot, locked in the order etl seed takes them (``api.farm``).
EVENT_TABLES = (EVENT_TABLE, STATUS_CODE_TABLE, TURBINE_TABLE, FARM_TABLE, SOURCE_STATE_TABLE)
FETCH_ROWS = 5_000


def status_codes(conn: Connection) -> list[dict]:
    """Every status code in code order: ``code, description, category``."""
    rows = conn.execute(text(f'SELECT code, description, category FROM "{STATUS_CODE_TABLE}" ORDER BY code'))
    return [dict(row) for row in rows.mappings()]


def event_rows(conn: Connection, turbine_ids: list[int], start: dt.datetime, end: dt.datetime) -> list[bytes]:
    """The events of ``turbine_ids`` that overlap ``[start, end)``, ordered by start, then turbine, each as
    its JSON object (bytes: a year of events takes a few MB, not Python objects per value). Read through a
    server-side cursor of the driver, ``FETCH_ROWS`` at a time, as tuples (SQLAlchemy's row mappings took
    half of a 100-turbine day's answer)."""
    cursor = conn.connection.driver_connection.cursor(name="events")
    try:
        cursor.execute(
            f"SELECT e.start_time, e.end_time, t.name AS turbine, e.code, c.category, c.description "
            f'FROM "{EVENT_TABLE}" e JOIN "{TURBINE_TABLE}" t ON t.id = e.turbine_id '
            f'JOIN "{STATUS_CODE_TABLE}" c ON c.code = e.code '
            # [start_time, end_time) overlaps [start, end): the period index's search (an open event: to infinity)
            "WHERE e.turbine_id = ANY(%(ids)s) AND tstzrange(e.start_time, e.end_time) && tstzrange(%(start)s, %(end)s) "
            "ORDER BY e.start_time, t.name, e.id",
            {"ids": turbine_ids, "start": start, "end": end},
        )
        rows: list[bytes] = []
        while chunk := cursor.fetchmany(FETCH_ROWS):
            names = [column.name for column in cursor.description]
            rows.extend(orjson.dumps(dict(zip(names, row, strict=True))) for row in chunk)
        return rows
    finally:
        cursor.close()


def events_json(rows: list[bytes], start: dt.datetime, end: dt.datetime, turbines: list[str]) -> Iterator[bytes]:
    """The documented document: the interval and turbines, ``events``, then ``count`` last."""
    head = {"start": start, "end": end, "turbines": turbines}
    yield orjson.dumps(head)[:-1] + b',"events":['
    for offset in range(0, len(rows), FETCH_ROWS):
        yield (b"," if offset else b"") + b",".join(rows[offset : offset + FETCH_ROWS])
    yield b'],"count":%d}' % len(rows)
