"""The source database: the farm (turbine models, turbines) and their 1-minute samples, readable by
the API's role only. The schema is made by the migrations in ``storage/migrations/source``."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    select,
    text,
    true,
    update,
)

from ..config.settings import API_READER_ROLE
from ..core.categories import Category
from ..core.contract import (
    EVENT_TABLE,
    FINGERPRINT_TABLE,
    SOURCE_STATE_TABLE,
    SOURCE_TABLE,
    SOURCE_VARIABLES,
    STATUS_CODE_TABLE,
    TURBINE_TABLE,
)
from .fleet import fleet_tables

metadata = MetaData()
farm, turbine_model, turbine = fleet_tables(metadata, model_required=True)

source_data = Table(
    SOURCE_TABLE,
    metadata,
    Column("turbine_id", Integer, ForeignKey(f"{TURBINE_TABLE}.id"), nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    *(Column(name, Float(precision=53)) for name in SOURCE_VARIABLES),
    # Leading with the turbine makes "one turbine over a time range" an index range scan.
    PrimaryKeyConstraint("turbine_id", "timestamp", name="data_pkey"),
)

# The status log: codes mapped to IEC 61400-26-1 categories, and each turbine's events.
status_code = Table(
    STATUS_CODE_TABLE,
    metadata,
    Column("code", Integer, primary_key=True),
    Column("description", Text, nullable=False),
    Column("category", String(40), nullable=False, comment="IEC 61400-26-1 information category"),
    CheckConstraint("category IN (" + ", ".join(f"'{c.value}'" for c in Category) + ")", name="status_code_category"),
)
turbine_event = Table(
    EVENT_TABLE,
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("turbine_id", Integer, ForeignKey(f"{TURBINE_TABLE}.id"), nullable=False),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("end_time", DateTime(timezone=True), comment="null while the event lasts"),
    Column("code", Integer, ForeignKey(f"{STATUS_CODE_TABLE}.code"), nullable=False),
    CheckConstraint("end_time IS NULL OR end_time > start_time", name="turbine_event_ends_after_start"),
    Index("turbine_event_turbine_start_idx", "turbine_id", "start_time"),
    Index("turbine_event_start_idx", "start_time"),
)
# The events overlapping an interval, by their period: an open event's range is unbounded above (revision 0008).
Index(
    "turbine_event_period_idx",
    func.tstzrange(turbine_event.c.start_time, turbine_event.c.end_time),
    postgresql_using="gist",
)
# The source's version (one row): raised by every replacement of the source in its own transaction.
source_state = Table(
    SOURCE_STATE_TABLE,
    metadata,
    Column("one", Boolean, primary_key=True, server_default=true(), comment="always true: one row"),
    Column("version", BigInteger, nullable=False, comment="raised by every replacement of the source"),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("one", name="source_state_one_row"),
)
# Each (UTC day, turbine)'s fingerprint, kept by triggers on ``data`` (revision 0007, docs/live.md); read-only here.
day_fingerprint = Table(
    FINGERPRINT_TABLE,
    metadata,
    Column("day", Date, nullable=False),
    Column("turbine_id", Integer, nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("checksum", BigInteger, nullable=False, comment="sum modulo 2**64 of each row's hash_record_extended"),
    Column("last_timestamp", DateTime(timezone=True)),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("day", "turbine_id", name="day_fingerprint_pkey"),
    Index("day_fingerprint_turbine_day_idx", "turbine_id", "day"),
    comment="each (UTC day, turbine) with samples: rows, checksum, newest sample (docs/live.md)",
)


def prepare_source(engine: Engine) -> None:
    """Bring the schema to the current version (migrations) and let the API's role read it, nothing
    more: SELECT on the tables, and no temporary tables in the database (PostgreSQL grants TEMPORARY
    to every role through PUBLIC; revoked here, the database's owner keeps it)."""
    from .migrations import upgrade

    upgrade(engine, "source")
    reader_role = API_READER_ROLE
    with engine.begin() as conn:
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        conn.execute(text(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC'))
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": reader_role}).first():
            conn.execute(text(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM "{reader_role}"'))
            for table in metadata.sorted_tables:
                conn.execute(text(f'REVOKE ALL ON TABLE "{table.name}" FROM "{reader_role}"'))
                conn.execute(text(f'GRANT SELECT ON TABLE "{table.name}" TO "{reader_role}"'))


def source_row_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(source_data)).scalar_one()


def bump_source_version(conn: Connection) -> int:
    """Raise the source's version inside ``conn``'s transaction, the one that replaces the source's rows,
    and return the new version: a reader sees the old rows with the old version or the new with the new."""
    return conn.execute(
        update(source_state)
        .values(version=source_state.c.version + 1, changed_at=func.now())
        .returning(source_state.c.version)
    ).scalar_one()


def source_version(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(source_state.c.version)).scalar_one()
