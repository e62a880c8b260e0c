"""Schema migrations (Alembic) on real PostgreSQL: a target and a source made by the single-turbine
schema upgrade in place keeping their rows; a fresh database gets exactly the current schema;
concurrent first runs against an empty target all succeed."""

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
            run = conn.execute(text("SELECT turbines, quality, flag_counts FROM etl_run")).one()
        upgraded.dispose()
        assert after == before and len(after) == 2 * 289
        assert tuple(run) == (["WT01"], {"WT01": {"power": 0.97}}, {"WT01": {"gap": {"power": 35}}})

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
        assert current_revision(upgraded) == HEAD["source"]
        with upgraded.connect() as conn:
            assert conn.execute(text("SELECT version FROM source_state")).all() == [(1,)]
        upgraded.dispose()
        assert rows == [("WT01", "V90/2000", 1440)]


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
        seed_source(engine, days=1, turbines=2, faults=())
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE source_state, turbine_event, status_code"))  # as at 0002: no version, no log
            conn.execute(text("ALTER TABLE turbine DROP COLUMN elevation"))
            conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
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
