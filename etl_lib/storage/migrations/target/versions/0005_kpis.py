"""What the farm did, per turbine and day: minutes per IEC 61400-26-1 category, energy produced, the
potential energy, lost production per group of categories and in each availability view's unavailable
time, written in the day's transaction by the run named; and each turbine's elevation.

Revision ID: 0005
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# As this revision made them (a later change is a revision of its own).
CATEGORIES = (
    "full_performance",
    "partial_performance",
    "ready_standby",
    "technical_standby",
    "out_of_environmental_specification",
    "requested_shutdown",
    "out_of_electrical_specification",
    "scheduled_maintenance",
    "planned_corrective_action",
    "forced_outage",
    "suspended",
    "force_majeure",
    "information_unavailable",
)
GROUPS = (
    "forced_outage",
    "scheduled_maintenance",
    "curtailment",
    "grid",
    "environmental",
    "performance",
    "information_unavailable",
    "residual",
)


def upgrade() -> None:
    op.add_column("turbine", sa.Column("elevation", sa.Float(precision=53), comment="m above sea level"))
    op.create_table(
        "turbine_day_kpi",
        sa.Column("turbine_id", sa.Integer, sa.ForeignKey("turbine.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("etl_run.id", ondelete="CASCADE"),
            nullable=False,
            comment="the run that wrote it (its KPIs go with its record)",
        ),
        sa.Column("rated_power_kw", sa.Float(precision=53), nullable=False),
        sa.Column("expected_minutes", sa.Integer, nullable=False, comment="the day's minutes"),
        sa.Column("present_minutes", sa.Integer, nullable=False, comment="minutes with a row in the source"),
        sa.Column("inferred_minutes", sa.Integer, nullable=False, comment="minutes whose category no log gave"),
        *(sa.Column(f"minutes_{name}", sa.Integer, nullable=False) for name in CATEGORIES),
        sa.Column("energy_kwh", sa.Float(precision=53), nullable=False, comment="produced"),
        sa.Column("potential_energy_kwh", sa.Float(precision=53), nullable=False),
        *(sa.Column(f"lost_kwh_{name}", sa.Float(precision=53), nullable=False) for name in GROUPS),
        sa.Column("lost_kwh_unavailable_user", sa.Float(precision=53), nullable=False),
        sa.Column("lost_kwh_unavailable_manufacturer", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("turbine_id", "day", name="turbine_day_kpi_pkey"),
    )
    op.create_index("turbine_day_kpi_day_idx", "turbine_day_kpi", ["day"])
