"""The fleet's tables, the same in the source and the target: the farms (a site: name, position,
elevation), turbine models with their power curves, and the turbines (name, farm, model, position).
One definition, added to each database's metadata."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY

from ..core.contract import FARM_NAME_PATTERN, FARM_TABLE, MODEL_TABLE, TURBINE_TABLE
from ..core.turbines import TurbineModel


def farm_table(metadata: MetaData) -> Table:
    """``farm``: a site of the fleet. Its name names folders and Dagster partitions (``FARM_NAME_PATTERN``)."""
    return Table(
        FARM_TABLE,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(64), nullable=False, unique=True),
        Column("latitude", Float(precision=53), comment="degrees north (WGS 84)"),
        Column("longitude", Float(precision=53), comment="degrees east (WGS 84)"),
        Column("elevation", Float(precision=53), comment="m above sea level"),
        CheckConstraint(f"name ~ '{FARM_NAME_PATTERN}'", name="farm_name_pattern"),
    )


def fleet_tables(metadata: MetaData, *, model_required: bool) -> tuple[Table, Table, Table]:
    """``farm``, ``turbine_model`` and ``turbine`` in ``metadata``. The source knows every turbine's farm and
    model; the target may hold a turbine whose model or farm it has not been told yet (rows from before the
    farm, or before the fleet)."""
    farm = farm_table(metadata)
    model = Table(
        MODEL_TABLE,
        metadata,
        Column("name", String(64), primary_key=True),
        Column("manufacturer", String(128)),
        Column("rated_power", Float(precision=53), nullable=False, comment="kW"),
        Column("cut_in", Float(precision=53), nullable=False, comment="m/s"),
        Column("cut_out", Float(precision=53), nullable=False, comment="m/s"),
        Column("hub_height", Float(precision=53), comment="m"),
        Column("rotor_diameter", Float(precision=53), comment="m"),
        Column("curve_wind_speed", ARRAY(Float(precision=53)), nullable=False, comment="m/s, ascending"),
        Column("curve_power", ARRAY(Float(precision=53)), nullable=False, comment="kW at each curve_wind_speed"),
        Column("source", Text, comment="where the curve comes from"),
    )
    turbine = Table(
        TURBINE_TABLE,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(64), nullable=False, unique=True),
        Column("model", String(64), ForeignKey(f"{MODEL_TABLE}.name"), nullable=not model_required),
        Column("latitude", Float(precision=53), comment="degrees north (WGS 84)"),
        Column("longitude", Float(precision=53), comment="degrees east (WGS 84)"),
        Column("elevation", Float(precision=53), comment="m above sea level"),
        Column("farm_id", Integer, ForeignKey(f"{FARM_TABLE}.id"), nullable=not model_required),
        Index("turbine_farm_id_idx", "farm_id"),
    )
    return farm, model, turbine


def model_row(model: TurbineModel) -> dict:
    """A ``turbine_model`` row of ``model``."""
    return {
        "name": model.name,
        "manufacturer": model.manufacturer,
        "rated_power": model.rated_power,
        "cut_in": model.cut_in,
        "cut_out": model.cut_out,
        "hub_height": model.hub_height,
        "rotor_diameter": model.rotor_diameter,
        "curve_wind_speed": list(model.wind_speeds),
        "curve_power": list(model.powers),
        "source": model.source,
    }


def model_from_row(row) -> TurbineModel:
    """The model of a ``turbine_model`` row (a mapping)."""
    return TurbineModel(
        name=row["name"],
        rated_power=row["rated_power"],
        cut_in=row["cut_in"],
        cut_out=row["cut_out"],
        wind_speeds=tuple(row["curve_wind_speed"]),
        powers=tuple(row["curve_power"]),
        manufacturer=row["manufacturer"],
        hub_height=row["hub_height"],
        rotor_diameter=row["rotor_diameter"],
        source=row["source"],
    )
