"""A fleet of farms: ``farm`` (a site: name, position, elevation), and each turbine's farm (``turbine.farm_id``).

The turbines of a source from before the fleet become the farm WF01's (``DEFAULT_FARM``), whose position
and elevation are its turbines' means.

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

# As this revision made them (a later change is a revision of its own).
DEFAULT_FARM = "WF01"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def create_farm_table() -> None:
    """The ``farm`` table as this revision makes it."""
    op.create_table(
        "farm",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("latitude", sa.Float(precision=53), comment="degrees north (WGS 84)"),
        sa.Column("longitude", sa.Float(precision=53), comment="degrees east (WGS 84)"),
        sa.Column("elevation", sa.Float(precision=53), comment="m above sea level"),
        sa.CheckConstraint(f"name ~ '{NAME_PATTERN}'", name="farm_name_pattern"),
    )


def upgrade() -> None:
    create_farm_table()
    op.add_column("turbine", sa.Column("farm_id", sa.Integer, nullable=True))
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT EXISTS (SELECT 1 FROM turbine)")).scalar():
        connection.execute(
            sa.text(
                "INSERT INTO farm (id, name, latitude, longitude, elevation) "
                "SELECT 1, :name, avg(latitude), avg(longitude), avg(elevation) FROM turbine"
            ),
            {"name": DEFAULT_FARM},
        )
        op.execute("UPDATE turbine SET farm_id = 1")
    op.alter_column("turbine", "farm_id", nullable=False)
    op.create_foreign_key("turbine_farm_id_fkey", "turbine", "farm", ["farm_id"], ["id"])
    op.create_index("turbine_farm_id_idx", "turbine", ["farm_id"])
