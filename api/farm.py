"""The farm as the API reads it from the source: turbines (id, name, position) and their models, and
the source's version, each answer's reads inside one snapshot of the source.

A snapshot is one read-only REPEATABLE READ transaction whose tables are locked (``ACCESS SHARE``)
before its first query: a replacement of the source (``etl seed``: TRUNCATE, new rows and a new
version, in one transaction) then waits for the answer, or the answer for it, and an answer never
holds part of one state and part of another (PostgreSQL's TRUNCATE is not MVCC-safe: a snapshot
taken before it would see the table empty). The first query reads the version, so the version an
answer carries (``X-Source-Version``) is the state of everything it sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

from etl_lib.core.contract import MODEL_TABLE, SOURCE_STATE_TABLE, SOURCE_TABLE, TURBINE_TABLE

from .limits import unavailable

# Locked in the order a replacement of the source takes them (``etl seed``: TRUNCATE turbine_event,
# status_code, data, turbine, turbine_model, then its version), so that an answer and a seed never wait
# for each other in a circle (``api.events.EVENT_TABLES`` too).
FARM_TABLES = (TURBINE_TABLE, MODEL_TABLE, SOURCE_STATE_TABLE)
SAMPLE_TABLES = (SOURCE_TABLE, TURBINE_TABLE, SOURCE_STATE_TABLE)
COVERAGE_TABLES = (SOURCE_TABLE, SOURCE_STATE_TABLE)
BEGIN_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
VERSION_QUERY = f'SELECT version FROM "{SOURCE_STATE_TABLE}"'
TURBINE_IDS_QUERY = f'SELECT name, id FROM "{TURBINE_TABLE}" ORDER BY name'
# The driver's code of "undefined table": a source whose schema is older than the API.
UNDEFINED_TABLE = "42P01"


def lock_statement(tables: tuple[str, ...]) -> str:
    """Lock ``tables`` against replacement for the rest of the transaction; before its first query."""
    names = ", ".join(f'"{table}"' for table in tables)
    return f"LOCK TABLE {names} IN ACCESS SHARE MODE"


def older_schema(error: BaseException):
    """The 503 for a source without the tables this API reads (its schema predates them), else None."""
    if getattr(getattr(error, "orig", error), "pgcode", None) != UNDEFINED_TABLE:
        return None
    return unavailable(
        "The source's schema is older than this API (a table it reads is missing). Bring it up to date "
        "with `etl init` (or `etl stack up`), then ask again."
    )


@contextmanager
def snapshot(engine: Engine, tables: tuple[str, ...]) -> Iterator[tuple[Connection, int]]:
    """A connection inside a snapshot of ``tables`` (see the module), and the source's version in it."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            try:
                conn.execute(text(lock_statement(tables)))
                version = conn.execute(text(VERSION_QUERY)).scalar_one()
            except Exception as exc:
                refused = older_schema(exc)
                if refused is None:
                    raise
                raise refused from None
            yield conn, version


def turbine_ids(conn: Connection) -> dict[str, int]:
    """Every turbine's id by name, in name order."""
    rows = conn.execute(text(TURBINE_IDS_QUERY))
    return {name: turbine_id for name, turbine_id in rows}  # noqa: C416 (a Result has keys(): dict() would take it for a mapping)


def turbines_with_models(conn: Connection) -> list[dict]:
    """Every turbine in name order, with its model and the model's power curve."""
    rows = conn.execute(
        text(
            f"SELECT t.name, t.latitude, t.longitude, t.elevation, m.name AS model, m.manufacturer, m.rated_power, m.cut_in, "
            f"m.cut_out, m.hub_height, m.rotor_diameter, m.source, m.curve_wind_speed, m.curve_power "
            f'FROM "{TURBINE_TABLE}" t JOIN "{MODEL_TABLE}" m ON m.name = t.model ORDER BY t.name'
        )
    ).mappings()
    return [
        {
            "name": row["name"],
            "latitude": row["latitude"],
            "longitude": row["longitude"],
            "elevation": row["elevation"],
            "model": {
                "name": row["model"],
                **{
                    key: row[key]
                    for key in (
                        "manufacturer",
                        "rated_power",
                        "cut_in",
                        "cut_out",
                        "hub_height",
                        "rotor_diameter",
                        "source",
                    )
                },
                "curve": {"wind_speed": row["curve_wind_speed"], "power": row["curve_power"]},
            },
        }
        for row in rows
    ]
