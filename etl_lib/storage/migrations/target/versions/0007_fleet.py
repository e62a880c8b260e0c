"""A fleet of farms: ``farm`` mirrored from the source (a site: name, position, elevation), each turbine's
farm (``turbine.farm_id``, unknown until a run reads it) and each run's (``etl_run.farm``).

A target from before the fleet was filled from a source of one farm, which the source's revision 0006
names WF01 (``DEFAULT_FARM``): its turbines and its runs become WF01's; the farm's position follows when
a run reads it from the source.

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

# As this revision made them (a later change is a revision of its own).
DEFAULT_FARM = "WF01"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def upgrade() -> None:
    op.create_table(
        "farm",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("latitude", sa.Float(precision=53), comment="degrees north (WGS 84)"),
        sa.Column("longitude", sa.Float(precision=53), comment="degrees east (WGS 84)"),
        sa.Column("elevation", sa.Float(precision=53), comment="m above sea level"),
        sa.CheckConstraint(f"name ~ '{NAME_PATTERN}'", name="farm_name_pattern"),
    )
    op.add_column("turbine", sa.Column("farm_id", sa.Integer, sa.ForeignKey("farm.id"), nullable=True))
    op.create_index("turbine_farm_id_idx", "turbine", ["farm_id"])
    op.add_column("etl_run", sa.Column("farm", sa.String(64), comment="the farm the run covered (its name)"))
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT EXISTS (SELECT 1 FROM turbine) OR EXISTS (SELECT 1 FROM etl_run)")).scalar():
        connection.execute(sa.text("INSERT INTO farm (name) VALUES (:name)"), {"name": DEFAULT_FARM})
        connection.execute(
            sa.text("UPDATE turbine SET farm_id = (SELECT id FROM farm WHERE name = :name)"), {"name": DEFAULT_FARM}
        )
        connection.execute(sa.text("UPDATE etl_run SET farm = :name"), {"name": DEFAULT_FARM})
    op.create_index("etl_run_farm_run_date_idx", "etl_run", ["farm", "run_date"])
