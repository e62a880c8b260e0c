"""The source's version: one row ``source_state(version, changed_at)`` that every replacement of the
source raises in the same transaction as its rows, so the API can say which state of the source an
answer comes from and the ETL can tell that the farm and the samples it read are of one state.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("one", sa.Boolean, primary_key=True, server_default=sa.true(), comment="always true: one row"),
        sa.Column("version", sa.BigInteger, nullable=False, comment="raised by every replacement of the source"),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("one", name="source_state_one_row"),
    )
    op.execute("INSERT INTO source_state (one, version, changed_at) VALUES (true, 1, now())")
