"""The target database: the fleet (farms, turbine models, turbines, mirrored from the source), a signal per
turbine and name, their 10-minute values and the run record. The schema is made by the migrations in
``storage/migrations/target`` (``ensure_target_schema``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert

from ..core.categories import LOSS_GROUPS, Category
from ..core.contract import KPI_TABLE, TURBINE_TABLE, RunStatus
from ..core.turbines import TurbineModel
from .fleet import fleet_tables, model_row

metadata = MetaData()
farm, turbine_model, turbine = fleet_tables(metadata, model_required=False)
# Only the target keeps turbines that left the source: a farm run marks them (storage.target.retire).
turbine.append_column(
    Column(
        "retired_at",
        DateTime(timezone=True),
        comment="when a run found the turbine no longer in the source; NULL: in the farm",
    )
)

signal = Table(
    "signal",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("turbine_id", Integer, ForeignKey(f"{TURBINE_TABLE}.id", ondelete="RESTRICT"), nullable=False),
    UniqueConstraint("turbine_id", "name", name="signal_turbine_id_name_key"),
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
    Column("turbines", JSONB, comment="the turbines the run covered (names)"),
    Column("rows_read", Integer),
    Column("rows_written", Integer),
    Column("quality", JSONB, comment="{turbine: {variable: share of the day's expected samples that are good}}"),
    Column("flag_counts", JSONB, comment="{turbine: {check: {variable: samples flagged}}}"),
    Column("thresholds", JSONB, comment="the quality thresholds the run used"),
    Column("report", Text, comment="path of the audit notebook, when run through it"),
    Column("error", Text),
    Column("key", String(64), comment="the caller's id of this run (etl run, a backfill, a Dagster run)"),
    Column("buckets", Integer, comment="(turbine, bucket) pairs with statistics"),
    Column("overflowed_statistics", Integer, comment="statistics not written: not finite (overflow)"),
    Column("seconds", JSONB, comment="{step: seconds} of the run's steps"),
    Column("report_error", Text, comment="why the run's report could not be completed, when it could not"),
    Column(
        "source_version",
        BigInteger,
        comment="the source's version the run read its farm and samples from (X-Source-Version)",
    ),
    Column("farm", String(64), comment="the farm the run covered (its name)"),
    Column(
        "fingerprints",
        JSONB,
        comment="{turbine: {rows, checksum, last_timestamp}}: the day as the source held it when the run read it",
    ),
    Column(
        "complete_until",
        DateTime(timezone=True),
        comment="a day not over yet: the end of its last complete bucket, up to which the run wrote (null: whole)",
    ),
    CheckConstraint(f"status IN {tuple(status.value for status in RunStatus)!r}", name="etl_run_status"),
    Index("etl_run_key_idx", "key"),
    Index("etl_run_farm_run_date_idx", "farm", "run_date"),
)

# What the farm did, per turbine and day (``metrics.kpis``): replaced with the day's rows, in its transaction.
turbine_day_kpi = Table(
    KPI_TABLE,
    metadata,
    Column("turbine_id", Integer, ForeignKey(f"{TURBINE_TABLE}.id", ondelete="RESTRICT"), nullable=False),
    Column("day", Date, nullable=False),
    Column(
        "run_id",
        Integer,
        ForeignKey("etl_run.id", ondelete="CASCADE"),
        nullable=False,
        comment="the run that wrote it (its KPIs go with its record)",
    ),
    Column("rated_power_kw", Float(precision=53), nullable=False),
    Column("expected_minutes", Integer, nullable=False, comment="the day's minutes"),
    Column("present_minutes", Integer, nullable=False, comment="minutes with a row in the source"),
    Column("inferred_minutes", Integer, nullable=False, comment="minutes whose category no log gave"),
    *(Column(f"minutes_{category.value}", Integer, nullable=False) for category in Category),
    Column("energy_kwh", Float(precision=53), nullable=False, comment="produced"),
    Column("potential_energy_kwh", Float(precision=53), nullable=False),
    *(Column(f"lost_kwh_{group}", Float(precision=53), nullable=False) for group in LOSS_GROUPS),
    Column("lost_kwh_unavailable_user", Float(precision=53), nullable=False),
    Column("lost_kwh_unavailable_manufacturer", Float(precision=53), nullable=False),
    PrimaryKeyConstraint("turbine_id", "day", name="turbine_day_kpi_pkey"),
    Index("turbine_day_kpi_day_idx", "day"),
)

_prepared: set[str] = set()


def ensure_target_schema(engine: Engine) -> None:
    """The schema at the current version (the migrations, serialized by an advisory lock), once per
    process and URL."""
    key = engine.url.render_as_string(hide_password=False)
    if key not in _prepared:
        from .migrations import upgrade

        upgrade(engine, "target")
        _prepared.add(key)


def upsert_site(conn: Connection, site: dict) -> int:
    """Record the farm ``site`` (``name``, ``latitude``, ``longitude``, ``elevation``) as the source describes
    it now; return its id."""
    row = {key: site.get(key) for key in ("name", "latitude", "longitude", "elevation")}
    statement = insert(farm).values(row)
    return conn.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={c: statement.excluded[c] for c in ("latitude", "longitude", "elevation")}
        ).returning(farm.c.id)
    ).scalar_one()


def upsert_farm(conn: Connection, turbines: list[dict], farm_id: int | None = None) -> dict[str, int]:
    """Record the turbines (``name``, ``model``: a TurbineModel, ``latitude``, ``longitude``, ``elevation``), their
    models and, given ``farm_id`` (``upsert_site``), their farm as the source describes them now; return their ids
    by name."""
    models: dict[str, TurbineModel] = {t["model"].name: t["model"] for t in turbines if t.get("model")}
    if models:
        rows = [model_row(model) for model in models.values()]
        statement = insert(turbine_model).values(rows)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["name"], set_={c: statement.excluded[c] for c in rows[0] if c != "name"}
            )
        )
    rows = [
        {
            "name": t["name"],
            "model": t["model"].name if t.get("model") else None,
            "latitude": t.get("latitude"),
            "longitude": t.get("longitude"),
            "elevation": t.get("elevation"),
            "farm_id": farm_id,
        }
        for t in turbines
    ]
    statement = insert(turbine).values(rows)
    updated = ("model", "latitude", "longitude", "elevation", *(("farm_id",) if farm_id is not None else ()))
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={**{c: statement.excluded[c] for c in updated}, "retired_at": None}
        )
    )
    names = [t["name"] for t in turbines]
    return dict(conn.execute(select(turbine.c.name, turbine.c.id).where(turbine.c.name.in_(names))).all())


def ensure_signals(conn: Connection, turbine_ids: dict[str, int], names: list[str]) -> dict[tuple[str, str], int]:
    """The ids of every ``(turbine, signal name)``, created where missing."""
    rows = [{"turbine_id": tid, "name": name} for tid in turbine_ids.values() for name in names]
    conn.execute(insert(signal).values(rows).on_conflict_do_nothing(index_elements=["turbine_id", "name"]))
    by_id = {tid: name for name, tid in turbine_ids.items()}
    found = conn.execute(
        select(signal.c.turbine_id, signal.c.name, signal.c.id).where(
            signal.c.turbine_id.in_(list(turbine_ids.values())), signal.c.name.in_(names)
        )
    )
    return {(by_id[tid], name): sid for tid, name, sid in found}


def retire(conn: Connection, farm: list[str], farm_id: int | None = None) -> list[str]:
    """Mark the turbines the source no longer has (not in ``farm``, every turbine of the source now, or of the
    farm ``farm_id`` now: then only that farm's turbines are judged) as retired, and those it has again as
    current; return the names retired by this call."""
    conn.execute(
        update(turbine).where(turbine.c.name.in_(farm), turbine.c.retired_at.is_not(None)).values(retired_at=None)
    )
    ours = turbine.c.farm_id == farm_id if farm_id is not None else true()
    return list(
        conn.execute(
            update(turbine)
            .where(turbine.c.name.not_in(farm), turbine.c.retired_at.is_(None), ours)
            .values(retired_at=func.now())
            .returning(turbine.c.name)
        ).scalars()
    )
