"""A farm: turbine models and turbines; every sample belongs to a turbine, key (turbine_id, timestamp).

Samples from before the farm become turbine WT01's, a V90/2000 (the catalogue's 2 MW model).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from etl_lib.core.contract import DEFAULT_MODELS, DEFAULT_TURBINE
from etl_lib.core.turbines import catalogue
from etl_lib.storage.migrations.farm_tables import create_farm_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_farm_tables(model_required=True)
    op.add_column("data", sa.Column("turbine_id", sa.Integer, nullable=True))
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT EXISTS (SELECT 1 FROM data)")).scalar():
        model = catalogue()[DEFAULT_MODELS[0]]
        connection.execute(
            sa.text(
                "INSERT INTO turbine_model (name, manufacturer, rated_power, cut_in, cut_out, hub_height, "
                "rotor_diameter, curve_wind_speed, curve_power, source) VALUES (:name, :manufacturer, :rated_power, "
                ":cut_in, :cut_out, :hub_height, :rotor_diameter, :speeds, :powers, :source)"
            ),
            {
                **{
                    k: getattr(model, k)
                    for k in (
                        "name",
                        "manufacturer",
                        "rated_power",
                        "cut_in",
                        "cut_out",
                        "hub_height",
                        "rotor_diameter",
                        "source",
                    )
                },
                "speeds": list(model.wind_speeds),
                "powers": list(model.powers),
            },
        )
        connection.execute(
            sa.text("INSERT INTO turbine (id, name, model) VALUES (1, :name, :model)"),
            {"name": DEFAULT_TURBINE, "model": model.name},
        )
        op.execute("UPDATE data SET turbine_id = 1")
    op.alter_column("data", "turbine_id", nullable=False)
    op.create_foreign_key("data_turbine_id_fkey", "data", "turbine", ["turbine_id"], ["id"])
    op.drop_constraint("data_pkey", "data", type_="primary")
    op.create_primary_key("data_pkey", "data", ["turbine_id", "timestamp"])
