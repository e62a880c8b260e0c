"""The farm as the API reads it from the source: turbines (id, name, position) and their models."""

from __future__ import annotations

from sqlalchemy import Connection, text

from etl_lib.core.contract import MODEL_TABLE, TURBINE_TABLE


def turbine_ids(conn: Connection) -> dict[str, int]:
    """Every turbine's id by name, in name order."""
    rows = conn.execute(text(f'SELECT name, id FROM "{TURBINE_TABLE}" ORDER BY name'))
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
