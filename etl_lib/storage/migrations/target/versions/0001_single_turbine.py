"""The target before the farm: signals by name, their 10-minute values, the run record.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signal",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.CheckConstraint("name <> ''", name="signal_name_not_empty"),
    )
    op.create_table(
        "data",
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signal_id", sa.Integer, sa.ForeignKey("signal.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("signal_id", "timestamp", name="data_pkey"),
    )
    op.create_table(
        "etl_run",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_date", sa.Date, nullable=False, index=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows_read", sa.Integer),
        sa.Column("rows_written", sa.Integer),
        sa.Column("quality", JSONB, comment="{variable: share of the day's expected samples that are good}"),
        sa.Column("flag_counts", JSONB, comment="{check: {variable: samples flagged}}"),
        sa.Column("thresholds", JSONB, comment="the quality thresholds the run used"),
        sa.Column("report", sa.Text, comment="path of the audit notebook, when run through it"),
        sa.Column("error", sa.Text),
        sa.CheckConstraint("status IN ('succeeded', 'failed')", name="etl_run_status"),
    )
