"""Schema migrations (Alembic) on real PostgreSQL: a target and a source made by the single-turbine
schema upgrade in place keeping their rows; a source and a target of one farm from before the fleet
become the farm WF01's; a fresh database gets exactly the current schema; concurrent first runs against
an empty target all succeed."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from etl_lib.pipeline.run import run_etl
from etl_lib.storage import source, target
from etl_lib.storage.migrations import HEAD, current_revision, upgrade
from etl_lib.storage.target import ensure_target_schema
from harness.stack import scratch_database

ETL = str(Path(sys.executable).with_name("etl"))


def single_turbine_database(url: str, database: str) -> None:
    """What the project made before the farm: the schema of revision 0001, without Alembic's table."""
    engine = create_engine(url, poolclass=NullPool)
    upgrade(engine, database, "0001")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()


def no_schema_difference(url: str, metadata) -> list:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        difference = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    return difference


def test_a_target_of_the_single_turbine_schema_upgrades_in_place_keeping_its_rows(settings):
    with scratch_database(settings.target_url) as url:
        single_turbine_database(url, "target")
        old = create_engine(url, poolclass=NullPool)
        with old.begin() as conn:
            conn.execute(text("INSERT INTO signal (name) VALUES ('power_mean'), ('wind_speed_mean')"))
            conn.execute(
                text(
                    "INSERT INTO data SELECT t, s.id, 100 + extract(minute FROM t) FROM signal s, "
                    "generate_series(TIMESTAMPTZ '2024-10-01', '2024-10-03', interval '10 minutes') AS t"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO etl_run (run_date, started_at, finished_at, status, quality, flag_counts) VALUES "
                    """('2024-10-01', now(), now(), 'succeeded', '{"power": 0.97}', '{"gap": {"power": 35}}')"""
                )
            )
            before = conn.execute(
                text(
                    "SELECT s.name, d.timestamp, d.value FROM data d JOIN signal s ON s.id = d.signal_id ORDER BY 1, 2"
                )
            ).all()
        old.dispose()

        done = subprocess.run(
            [ETL, "init"], capture_output=True, text=True, timeout=120, env={**os.environ, "TARGET_DATABASE_URL": url}
        )
        assert done.returncode == 0, done.stderr
        assert f"target schema at revision {HEAD['target']}" in done.stdout

        assert no_schema_difference(url, target.metadata) == []
        upgraded = create_engine(url, poolclass=NullPool)
        with upgraded.connect() as conn:
            after = conn.execute(
                text(
                    "SELECT s.name, d.timestamp, d.value FROM data d JOIN signal s ON s.id = d.signal_id "
                    "JOIN turbine t ON t.id = s.turbine_id WHERE t.name = 'WT01' ORDER BY 1, 2"
                )
            ).all()
            run = conn.execute(text("SELECT turbines, quality, flag_counts, farm FROM etl_run")).one()
        upgraded.dispose()
        assert after == before and len(after) == 2 * 289
        assert tuple(run) == (["WT01"], {"WT01": {"power": 0.97}}, {"WT01": {"gap": {"power": 35}}}, "WF01")

        # The ETL then runs against it: the farm's turbines join WT01, whose model it learns from the source.
        result = run_etl("2024-10-02", settings.model_copy(update={"target_database_url": url}))
        assert list(result.scope.turbines) == ["WT01", "WT02", "WT03", "WT04"]
        again = create_engine(url, poolclass=NullPool)
        with again.connect() as conn:
            models = dict(conn.execute(text("SELECT name, model FROM turbine")).all())
            untouched = conn.execute(
                text(
                    "SELECT count(*) FROM data d JOIN signal s ON s.id = d.signal_id "
                    "WHERE s.name = 'power_mean' AND d.timestamp < '2024-10-02'"
                )
            ).scalar_one()
        again.dispose()
        assert models == {"WT01": "V90/2000", "WT02": "V90/2000", "WT03": "E-82/2000", "WT04": "E-82/2000"}
        assert untouched == 144  # the day before the run still holds WT01's old rows


def test_a_source_of_the_single_turbine_schema_upgrades_in_place_keeping_its_rows(settings):
    with scratch_database(settings.target_url) as url:
        single_turbine_database(url, "source")
        old = create_engine(url, poolclass=NullPool)
        with old.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO data SELECT t, 7.5, 900, 12 FROM generate_series("
                    "TIMESTAMPTZ '2024-10-01', '2024-10-01 23:59', interval '1 minute') AS t"
                )
            )
        old.dispose()
        source.prepare_source(create_engine(url, poolclass=NullPool))
        assert no_schema_difference(url, source.metadata) == []
        upgraded = create_engine(url, poolclass=NullPool)
        with upgraded.connect() as conn:
            rows = conn.execute(
                text("SELECT t.name, t.model, count(*) FROM data d JOIN turbine t ON t.id = d.turbine_id GROUP BY 1, 2")
            ).all()
            farm = conn.execute(text("SELECT f.name FROM turbine t JOIN farm f ON f.id = t.farm_id")).all()
        assert current_revision(upgraded) == HEAD["source"]
        with upgraded.connect() as conn:
            assert conn.execute(text("SELECT version FROM source_state")).all() == [(1,)]
        upgraded.dispose()
        assert rows == [("WT01", "V90/2000", 1440)]
        assert farm == [("WF01",)]


def test_a_source_of_one_farm_from_before_the_fleet_becomes_the_farm_wf01s_keeping_its_rows(settings, source_engine):
    """Revision 0006 on a source of revision 0004 holding the default farm: every turbine, sample and event
    stays, the turbines become WF01's, whose position and elevation are their means; the API's role reads it."""
    with scratch_database(settings.target_url) as url:
        engine = create_engine(url, poolclass=NullPool)
        upgrade(engine, "source", "0004")
        tables = ("turbine_model", "turbine", "status_code", "data", "turbine_event")
        columns = {
            "turbine_model": "name, manufacturer, rated_power, cut_in, cut_out, hub_height, rotor_diameter, "
            "curve_wind_speed, curve_power, source",
            "turbine": "id, name, model, latitude, longitude, elevation",
            "status_code": "code, description, category",
            "data": "turbine_id, timestamp, wind_speed, power, ambient_temperature",
            "turbine_event": "turbine_id, start_time, end_time, code",
        }
        copied = {}
        with source_engine.connect() as seeded, engine.begin() as conn:
            for table in tables:
                rows = (
                    seeded.execute(text(f"SELECT {columns[table]} FROM {table} WHERE {_day_filter(table)}"))
                    .mappings()
                    .all()
                )
                names = columns[table].replace(" ", "")
                placeholders = ", ".join(f":{name}" for name in names.split(","))
                conn.execute(text(f"INSERT INTO {table} ({columns[table]}) VALUES ({placeholders})"), list(rows))
                copied[table] = len(rows)
        before = _counts(engine, tables)
        upgrade(engine, "source")
        assert current_revision(engine) == HEAD["source"]
        assert no_schema_difference(url, source.metadata) == []
        assert _counts(engine, tables) == before == copied and copied["data"] > 0
        with engine.connect() as conn:
            farms = conn.execute(text("SELECT id, name, latitude, longitude, elevation FROM farm")).all()
            means = conn.execute(text("SELECT avg(latitude), avg(longitude), avg(elevation) FROM turbine")).one()
            unassigned = conn.execute(text("SELECT count(*) FROM turbine WHERE farm_id IS DISTINCT FROM 1")).scalar()
        engine.dispose()
        assert [tuple(f)[:2] for f in farms] == [(1, "WF01")] and tuple(farms[0])[2:] == tuple(means)
        assert unassigned == 0


def test_a_target_of_one_farm_from_before_the_fleet_keeps_its_rows_and_runs_as_the_farm_wf01s(settings, target_engine):
    """Revision 0007 on a target of revision 0005 with a run's rows: its values, KPIs and run records stay, its
    turbines and runs become WF01's; the next run fills in the farm's position from the source."""
    with scratch_database(settings.target_url) as url:
        engine = create_engine(url, poolclass=NullPool)
        upgrade(engine, "target", "0005")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO turbine (name) VALUES ('WT01'), ('WT02')"))
            conn.execute(text("INSERT INTO signal (name, turbine_id) SELECT 'power_mean', id FROM turbine"))
            conn.execute(
                text(
                    "INSERT INTO data SELECT t, s.id, 1000 FROM signal s, "
                    "generate_series(TIMESTAMPTZ '2024-10-01', '2024-10-01 23:50', interval '10 minutes') AS t"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO etl_run (run_date, started_at, finished_at, status, turbines) VALUES "
                    """('2024-10-01', now(), now(), 'succeeded', '["WT01", "WT02"]')"""
                )
            )
        before = _counts(engine, ("turbine", "signal", "data", "etl_run"))
        upgrade(engine, "target")
        assert current_revision(engine) == HEAD["target"]
        assert no_schema_difference(url, target.metadata) == []
        assert _counts(engine, ("turbine", "signal", "data", "etl_run")) == before
        with engine.connect() as conn:
            turbines = conn.execute(
                text("SELECT t.name, f.name FROM turbine t JOIN farm f ON f.id = t.farm_id ORDER BY 1")
            ).all()
            runs = conn.execute(text("SELECT farm FROM etl_run")).scalars().all()
        assert turbines == [("WT01", "WF01"), ("WT02", "WF01")] and runs == ["WF01"]

        run_etl("2024-10-02", settings.model_copy(update={"target_database_url": url}), engine=engine)
        with engine.connect() as conn:
            farm = conn.execute(text("SELECT name, latitude, elevation FROM farm")).all()
        engine.dispose()
        assert len(farm) == 1 and farm[0][0] == "WF01" and farm[0][1] is not None and farm[0][2] == 8.0


def _day_filter(table: str) -> str:
    if table == "data":
        return "timestamp < '2024-10-02'"
    if table == "turbine_event":
        return "start_time < '2024-10-02'"
    return "true"


def _counts(engine, tables) -> dict[str, int]:
    with engine.connect() as conn:
        return {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in tables}


@pytest.mark.parametrize("database", ["source", "target"])
def test_a_fresh_database_gets_exactly_the_current_schema(settings, database):
    metadata = {"source": source.metadata, "target": target.metadata}[database]
    with scratch_database(settings.target_url) as url:
        upgrade(create_engine(url, poolclass=NullPool), database)
        assert no_schema_difference(url, metadata) == []


def test_concurrent_first_runs_against_an_empty_target_all_succeed(settings):
    """Ten runs of a date, each its own engine (as ten processes would be), on a database without tables."""
    with scratch_database(settings.target_url) as url:
        engines = [create_engine(url, poolclass=NullPool) for _ in range(10)]
        try:
            with ThreadPoolExecutor(10) as pool:
                outcomes = list(pool.map(lambda engine: _run(settings, url, engine), engines))
        finally:
            for engine in engines:
                engine.dispose()
        assert outcomes == ["ok"] * 10
        check = create_engine(url, poolclass=NullPool)
        with check.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM etl_run WHERE status = 'succeeded'")).scalar_one() == 10
            assert conn.execute(text("SELECT count(*) FROM turbine")).scalar_one() == 4
        check.dispose()


def _run(settings, url: str, engine) -> str:
    try:
        ensure_target_schema(engine)
        run_etl("2024-10-05", settings.model_copy(update={"target_database_url": url}), engine=engine)
    except Exception as exc:  # the outcome is compared, so every failure shows
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def test_a_source_at_0002_gets_its_version_row_and_keeps_its_rows_and_a_seed_raises_the_version(settings):
    from etl_lib.simulation.seed import seed_source
    from etl_lib.storage.source import source_version

    with scratch_database(settings.target_url) as url:
        engine = create_engine(url, poolclass=NullPool)
        upgrade(engine, "source", "0002")  # the farm, before the source's version
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO turbine_model (name, rated_power, cut_in, cut_out, curve_wind_speed, curve_power) "
                    "VALUES ('V90/2000', 2000, 3.5, 25, '{3.5, 15}', '{0, 2000}')"
                )
            )
            conn.execute(text("INSERT INTO turbine (id, name, model) VALUES (1, 'WT01', 'V90/2000')"))
            conn.execute(
                text(
                    "INSERT INTO data (turbine_id, timestamp, wind_speed, power, ambient_temperature) "
                    "SELECT 1, t, 7.5, 900 + extract(minute FROM t), 12 FROM generate_series("
                    "TIMESTAMPTZ '2024-10-01', '2024-10-01 23:59', interval '1 minute') AS t"
                )
            )
            before = conn.execute(text("SELECT count(*), sum(power) FROM data")).one()
        source.prepare_source(engine)
        assert current_revision(engine) == HEAD["source"] and source_version(engine) == 1
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*), sum(power) FROM data")).one() == before
        assert no_schema_difference(url, source.metadata) == []
        assert seed_source(engine, days=1, turbines=2, faults=()).version == 2  # in the seed's own transaction
        assert source_version(engine) == 2
        engine.dispose()


def test_a_target_at_0003_gets_the_source_version_and_retired_columns_keeping_its_rows(settings):
    with scratch_database(settings.target_url) as url:
        engine = create_engine(url, poolclass=NullPool)
        upgrade(engine, "target", "0003")
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO turbine (id, name) VALUES (1, 'WT01'), (2, 'WT02'), (3, 'WT03'), (4, 'WT04')")
            )
            conn.execute(text("INSERT INTO signal (name, turbine_id) SELECT 'power_mean', id FROM turbine"))
            conn.execute(
                text(
                    "INSERT INTO data SELECT t, s.id, 100 + extract(minute FROM t) FROM signal s, "
                    "generate_series(TIMESTAMPTZ '2024-10-01', '2024-10-03', interval '10 minutes') AS t"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO etl_run (run_date, started_at, finished_at, status) "
                    "VALUES ('2024-10-01', now(), now(), 'succeeded')"
                )
            )
            before = conn.execute(text("SELECT count(*), sum(value) FROM data")).one()
        upgrade(engine, "target")
        assert current_revision(engine) == HEAD["target"]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*), sum(value) FROM data")).one() == before
            assert conn.execute(text("SELECT count(*) FROM turbine WHERE retired_at IS NULL")).scalar_one() == 4
            assert conn.execute(text("SELECT source_version FROM etl_run")).all() == [(None,)]
        assert no_schema_difference(url, target.metadata) == []
        engine.dispose()
