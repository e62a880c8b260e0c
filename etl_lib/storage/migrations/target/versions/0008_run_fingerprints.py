"""What each run read of a source that keeps changing: ``etl_run.fingerprints`` (each turbine's fingerprint of
the day, as the source stated it in the same snapshot as the samples: rows, checksum, newest sample) and
``etl_run.complete_until`` (for a day not over yet in the source: the end of its last complete 10-minute
bucket, up to which the run wrote; null for a whole day). Runs from before have neither: ``etl sync`` runs
their days again once.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "etl_run",
        sa.Column(
            "fingerprints",
            JSONB,
            comment="{turbine: {rows, checksum, last_timestamp}}: the day as the source held it when the run read it",
        ),
    )
    op.add_column(
        "etl_run",
        sa.Column(
            "complete_until",
            sa.DateTime(timezone=True),
            comment="a day not over yet: the end of its last complete bucket, up to which the run wrote (null: whole)",
        ),
    )
