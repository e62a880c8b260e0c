"""Which state of the source a run read (``etl_run.source_version``), and turbines that left the source
(``turbine.retired_at``: when a run first found the turbine no longer in the source; NULL while it is).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "etl_run",
        sa.Column(
            "source_version",
            sa.BigInteger,
            comment="the source's version the run read its farm and samples from (X-Source-Version)",
        ),
    )
    op.add_column(
        "turbine",
        sa.Column(
            "retired_at",
            sa.DateTime(timezone=True),
            comment="when a run found the turbine no longer in the source; NULL: in the farm",
        ),
    )
