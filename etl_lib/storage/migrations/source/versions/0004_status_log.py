"""The turbines' status log, as real SCADA keeps one: status codes, each mapped to an IEC 61400-26-1
information category, and per turbine the events (a code from a start to an end, open while it lasts);
and each turbine's elevation, for the air's density.

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from etl_lib.core.categories import Category

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("turbine", sa.Column("elevation", sa.Float(precision=53), comment="m above sea level"))
    op.create_table(
        "status_code",
        sa.Column("code", sa.Integer, primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("category", sa.String(40), nullable=False, comment="IEC 61400-26-1 information category"),
        sa.CheckConstraint(
            "category IN (" + ", ".join(f"'{c.value}'" for c in Category) + ")", name="status_code_category"
        ),
    )
    op.create_table(
        "turbine_event",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("turbine_id", sa.Integer, sa.ForeignKey("turbine.id"), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), comment="null while the event lasts"),
        sa.Column("code", sa.Integer, sa.ForeignKey("status_code.code"), nullable=False),
        sa.CheckConstraint("end_time IS NULL OR end_time > start_time", name="turbine_event_ends_after_start"),
    )
    op.create_index("turbine_event_turbine_start_idx", "turbine_event", ["turbine_id", "start_time"])
    op.create_index("turbine_event_start_idx", "turbine_event", ["start_time"])
