"""The one record of a run: the run's key (so the caller that started it finds its row), the buckets it
filled, the statistics it left out as not finite, its steps' seconds, and what became of its report.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "etl_run",
        sa.Column("key", sa.String(64), comment="the caller's id of this run (etl run, a backfill, a Dagster run)"),
    )
    op.create_index("etl_run_key_idx", "etl_run", ["key"])
    op.add_column("etl_run", sa.Column("buckets", sa.Integer, comment="(turbine, bucket) pairs with statistics"))
    op.add_column(
        "etl_run",
        sa.Column("overflowed_statistics", sa.Integer, comment="statistics not written: not finite (overflow)"),
    )
    op.add_column("etl_run", sa.Column("seconds", JSONB, comment="{step: seconds} of the run's steps"))
    op.add_column(
        "etl_run",
        sa.Column("report_error", sa.Text, comment="why the run's report could not be completed, when it could not"),
    )
