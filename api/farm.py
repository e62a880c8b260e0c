"""The fleet as the API reads it from the source: farms (name, position, elevation), turbines (id, name,
farm, position) and their models."""

from __future__ import annotations

from sqlalchemy import Connection, text

from etl_lib.core.contract import FARM_TABLE, MODEL_TABLE, TURBINE_TABLE

from .params import refuse_unknown_farm


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
    return list(conn.execute(text(f'SELECT name FROM "{FARM_TABLE}" ORDER BY name')).scalars())


def turbine_ids(conn: Connection, farm: str | None = None) -> dict[str, int]:
    """Every turbine's id by name (of the farm named ``farm``; None: of every farm), in name order. An unknown
    farm is the caller's error (422, naming the farms)."""
    if farm is None:
        rows = conn.execute(text(f'SELECT name, id FROM "{TURBINE_TABLE}" ORDER BY name'))
    else:
        rows = conn.execute(
            text(
                f'SELECT t.name, t.id FROM "{TURBINE_TABLE}" t JOIN "{FARM_TABLE}" f ON f.id = t.farm_id '
                "WHERE f.name = :farm ORDER BY t.name"
            ),
            {"farm": farm},
        )
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
