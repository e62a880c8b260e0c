"""The target database: signals and their 10-minute values, created by SQLAlchemy."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    select,
)
from sqlalchemy.dialects.postgresql import insert

ETL_VARIABLES: tuple[str, ...] = ("wind_speed", "power")
STATISTICS: tuple[str, ...] = ("mean", "min", "max", "std")

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


def signal_name(variable: str, statistic: str) -> str:
    return f"{variable}_{statistic}"


def etl_signal_names() -> list[str]:
    return [signal_name(v, s) for v in ETL_VARIABLES for s in STATISTICS]


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
