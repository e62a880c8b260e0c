"""The fleet as the API reads it from the source: farms (name, position, elevation), turbines (id, name,
farm, position) and their models, and the source's version, each answer's reads inside one snapshot of
the source.

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

from etl_lib.core.contract import (
    FARM_TABLE,
    FINGERPRINT_TABLE,
    MODEL_TABLE,
    SOURCE_STATE_TABLE,
    SOURCE_TABLE,
    TURBINE_TABLE,
)

from .limits import unavailable
from .params import refuse_unknown_farm

# Locked in the order a replacement of the source takes them (``etl seed``: TRUNCATE turbine_event,
# status_code, data, turbine, turbine_model, farm, by its trigger day_fingerprint, then its version), so that an answer and a seed never
# wait for each other in a circle (``api.events.EVENT_TABLES`` too).
FLEET_TABLES = (TURBINE_TABLE, FARM_TABLE, SOURCE_STATE_TABLE)
FARM_TABLES = (TURBINE_TABLE, MODEL_TABLE, FARM_TABLE, SOURCE_STATE_TABLE)
SAMPLE_TABLES = (SOURCE_TABLE, TURBINE_TABLE, FARM_TABLE, FINGERPRINT_TABLE, SOURCE_STATE_TABLE)
COVERAGE_TABLES = (SOURCE_TABLE, TURBINE_TABLE, FARM_TABLE, SOURCE_STATE_TABLE)
BEGIN_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
VERSION_QUERY = f'SELECT version FROM "{SOURCE_STATE_TABLE}"'
TURBINE_IDS_QUERY = f'SELECT name, id FROM "{TURBINE_TABLE}" ORDER BY name'
# A farm's turbines (its name the one parameter, %s for the driver's cursor, :farm through SQLAlchemy).
FARM_TURBINE_IDS_QUERY = (
    f'SELECT t.name, t.id FROM "{TURBINE_TABLE}" t JOIN "{FARM_TABLE}" f ON f.id = t.farm_id '
    "WHERE f.name = %s ORDER BY t.name"
)
FARM_NAMES_QUERY = f'SELECT name FROM "{FARM_TABLE}" ORDER BY name'
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


def farms(conn: Connection) -> list[dict]:
    """Every farm in name order: ``name, latitude, longitude, elevation`` and its number of ``turbines``."""
    rows = conn.execute(
        text(
            f"SELECT f.name, f.latitude, f.longitude, f.elevation, count(t.id) AS turbines "
            f'FROM "{FARM_TABLE}" f LEFT JOIN "{TURBINE_TABLE}" t ON t.farm_id = f.id GROUP BY f.id ORDER BY f.name'
        )
    )
    return [dict(row) for row in rows.mappings()]


def farm_names(conn: Connection) -> list[str]:
    return list(conn.execute(text(FARM_NAMES_QUERY)).scalars())


def turbine_ids(conn: Connection, farm: str | None = None) -> dict[str, int]:
    """Every turbine's id by name (of the farm named ``farm``; None: of every farm), in name order. An unknown
    farm is the caller's error (422, naming the farms)."""
    if farm is None:
        rows = conn.execute(text(TURBINE_IDS_QUERY))
    else:
        rows = conn.execute(text(FARM_TURBINE_IDS_QUERY.replace("%s", ":farm")), {"farm": farm})
    ids = {name: turbine_id for name, turbine_id in rows}  # noqa: C416 (a Result has keys(): dict() would take it for a mapping)
    if farm is not None and not ids:  # a farm without turbines, or no such farm
        refuse_unknown_farm(farm, farm_names(conn))
    return ids


def turbines_with_models(conn: Connection, farm: str | None = None) -> list[dict]:
    """Every turbine (of the farm named ``farm``; None: of every farm) in name order, with its farm, its model and
    the model's power curve."""
    selected = "" if farm is None else "WHERE f.name = :farm "
    rows = conn.execute(
        text(
            f"SELECT t.name, f.name AS farm, t.latitude, t.longitude, t.elevation, m.name AS model, m.manufacturer, "
            f"m.rated_power, m.cut_in, m.cut_out, m.hub_height, m.rotor_diameter, m.source, m.curve_wind_speed, "
            f'm.curve_power FROM "{TURBINE_TABLE}" t JOIN "{MODEL_TABLE}" m ON m.name = t.model '
            f'JOIN "{FARM_TABLE}" f ON f.id = t.farm_id {selected}ORDER BY t.name'
        ),
        {} if farm is None else {"farm": farm},
    ).mappings()
    turbines = [
        {
            "name": row["name"],
            "farm": row["farm"],
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
    if farm is not None and not turbines:
        refuse_unknown_farm(farm, farm_names(conn))
    return turbines
