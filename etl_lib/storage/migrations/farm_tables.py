"""The farm's tables as revision 0002 created them, in both databases (a migration's own snapshot:
later changes to ``storage.fleet`` need migrations of their own)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY


def create_farm_tables(*, model_required: bool) -> None:
    op.create_table(
        "turbine_model",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("manufacturer", sa.String(128)),
        sa.Column("rated_power", sa.Float(precision=53), nullable=False, comment="kW"),
        sa.Column("cut_in", sa.Float(precision=53), nullable=False, comment="m/s"),
        sa.Column("cut_out", sa.Float(precision=53), nullable=False, comment="m/s"),
        sa.Column("hub_height", sa.Float(precision=53), comment="m"),
        sa.Column("rotor_diameter", sa.Float(precision=53), comment="m"),
        sa.Column("curve_wind_speed", ARRAY(sa.Float(precision=53)), nullable=False, comment="m/s, ascending"),
        sa.Column("curve_power", ARRAY(sa.Float(precision=53)), nullable=False, comment="kW at each curve_wind_speed"),
        sa.Column("source", sa.Text, comment="where the curve comes from"),
    )
    op.create_table(
        "turbine",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("model", sa.String(64), sa.ForeignKey("turbine_model.name"), nullable=not model_required),
        sa.Column("latitude", sa.Float(precision=53), comment="degrees north (WGS 84)"),
        sa.Column("longitude", sa.Float(precision=53), comment="degrees east (WGS 84)"),
    )
