"""The status log's events found by their period: a GiST index on ``tstzrange(start_time, end_time)`` (an open
event's range is unbounded above), so that the events overlapping a day are an index search whatever the length
of the log. With only the B-tree on ``(turbine_id, start_time)``, "starts before the day's end" read every event
of the log's history up to that day, and filtered the ones that had ended: for a day late in a long log most of
the table.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX turbine_event_period_idx ON turbine_event USING gist (tstzrange(start_time, end_time))")
