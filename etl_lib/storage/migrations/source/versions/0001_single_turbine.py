"""The source before the farm: one anonymous turbine's 1-minute samples.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data",
        sa.Column("timestamp", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("wind_speed", sa.Float(precision=53)),
        sa.Column("power", sa.Float(precision=53)),
        sa.Column("ambient_temperature", sa.Float(precision=53)),
    )
