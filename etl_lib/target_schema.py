"""The target database: signals, their 10-minute values and the run record, created by SQLAlchemy."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, insert

ETL_VARIABLES: tuple[str, ...] = ("wind_speed", "power")
STATISTICS: tuple[str, ...] = ("mean", "min", "max", "std")
# Beside the statistics, per bucket: non-null samples present (0..10) and the share of the 10
# expected samples that are present and pass every quality check (0..1).
QUALITY_MEASURES: tuple[str, ...] = ("count", "quality")
RUN_STATUSES: tuple[str, ...] = ("succeeded", "failed")

metadata = MetaData()

signal = Table(
    "signal",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    CheckConstraint("name <> ''", name="signal_name_not_empty"),
)

target_data = Table(
    "data",
    metadata,
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("signal_id", Integer, ForeignKey("signal.id", ondelete="RESTRICT"), nullable=False),
    Column("value", Float(precision=53), nullable=False),
    # Leading with signal_id makes "one signal over a time range" an index range scan.
    PrimaryKeyConstraint("signal_id", "timestamp", name="data_pkey"),
)


# One row per execution of run_etl, failed ones included (status, error).
etl_run = Table(
    "etl_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_date", Date, nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("rows_read", Integer),
    Column("rows_written", Integer),
    Column("quality", JSONB, comment="{variable: share of the day's expected samples that are good}"),
    Column("flag_counts", JSONB, comment="{check: {variable: samples flagged}}"),
    Column("thresholds", JSONB, comment="the quality thresholds the run used"),
    Column("report", Text, comment="path of the audit notebook, when run through it"),
    Column("error", Text),
    CheckConstraint(f"status IN {RUN_STATUSES!r}", name="etl_run_status"),
)


def signal_name(variable: str, statistic: str) -> str:
    return f"{variable}_{statistic}"


def statistic_signal_names() -> list[str]:
    """``<variable>_<statistic>``: the 10-minute statistics, comparable with the source."""
    return [signal_name(v, s) for v in ETL_VARIABLES for s in STATISTICS]


def etl_signal_names() -> list[str]:
    """Every signal the ETL writes: the statistics and the ``_count`` and ``_quality`` signals."""
    return [signal_name(v, s) for v in ETL_VARIABLES for s in (*STATISTICS, *QUALITY_MEASURES)]


def create_target_schema(engine: Engine) -> None:
    """Create the tables if missing and seed the signals the ETL writes (idempotent)."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(signal).values([{"name": name} for name in etl_signal_names()]).on_conflict_do_nothing(
                index_elements=["name"]
            )
        )


def signal_ids(conn: Connection, names: list[str] | None = None) -> dict[str, int]:
    """Map signal name to id for the given names (default: the ETL's signals)."""
    names = names or etl_signal_names()
    rows = conn.execute(select(signal.c.name, signal.c.id).where(signal.c.name.in_(names)))
    return {name: signal_id for name, signal_id in rows}
