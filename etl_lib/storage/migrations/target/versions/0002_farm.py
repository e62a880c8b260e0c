"""A farm: turbine models and turbines; a signal per turbine and name; the run record per turbine.

Signals (and so values) from before the farm become turbine WT01's; its model stays unknown until a
run reads it from the source. Old run records get their quality and flag counts under WT01.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from etl_lib.core.contract import DEFAULT_TURBINE
from etl_lib.storage.migrations.farm_tables import create_farm_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_farm_tables(model_required=False)
    op.add_column("signal", sa.Column("turbine_id", sa.Integer, nullable=True))
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT EXISTS (SELECT 1 FROM signal)")).scalar():
        connection.execute(sa.text("INSERT INTO turbine (name) VALUES (:name)"), {"name": DEFAULT_TURBINE})
        connection.execute(
            sa.text("UPDATE signal SET turbine_id = (SELECT id FROM turbine WHERE name = :name)"),
            {"name": DEFAULT_TURBINE},
        )
    op.alter_column("signal", "turbine_id", nullable=False)
    op.create_foreign_key("signal_turbine_id_fkey", "signal", "turbine", ["turbine_id"], ["id"], ondelete="RESTRICT")
    op.drop_constraint("signal_name_key", "signal", type_="unique")
    op.create_unique_constraint("signal_turbine_id_name_key", "signal", ["turbine_id", "name"])

    op.add_column("etl_run", sa.Column("turbines", JSONB, comment="the turbines the run covered (names)"))
    connection.execute(
        sa.text(
            "UPDATE etl_run SET turbines = jsonb_build_array(CAST(:name AS text)), "
            "quality = CASE WHEN quality IS NULL THEN NULL ELSE jsonb_build_object(CAST(:name AS text), quality) END, "
            "flag_counts = CASE WHEN flag_counts IS NULL THEN NULL "
            "ELSE jsonb_build_object(CAST(:name AS text), flag_counts) END"
        ),
        {"name": DEFAULT_TURBINE},
    )
    op.alter_column(
        "etl_run", "quality", comment="{turbine: {variable: share of the day's expected samples that are good}}"
    )
    op.alter_column("etl_run", "flag_counts", comment="{turbine: {check: {variable: samples flagged}}}")
