"""A database migrated by a newer version of the project (a revision this code does not know in
alembic_version) is refused by `etl init` and `etl run` with the revision found and what to do (it
got "probably a bug"), and `etl doctor` reports it as a problem; nothing is changed in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from etl_lib.ops.doctor import diagnose, down_parts
from etl_lib.storage.migrations import HEAD, upgrade
from harness.fault_servers import stack_variables
from harness.stack import scratch_database

ETL = str(Path(sys.executable).with_name("etl"))


def newer(url: str, database: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    upgrade(engine, database)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0099"
    engine.dispose()
    return names


@pytest.mark.parametrize("database", ["target", "source"])
def test_etl_init_refuses_a_database_of_a_newer_version_with_the_revision_and_what_to_do(settings, database):
    with scratch_database(settings.target_url, f"newer_{database}") as url:
        newer(url, database)
        before = tables(url)
        done = subprocess.run(
            [ETL, "init"],
            env={**os.environ, f"{database.upper()}_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1
        assert done.stderr.startswith(
            f"error: The {database} database is at schema revision '0099', which this version of wind-etl does "
            f"not know (the newest it knows is {HEAD[database]}): a newer version of wind-etl migrated it."
        ), done.stderr
        assert "What to do: Run the version of wind-etl that migrated it" in done.stderr
        assert f"{database.upper()}_DATABASE_URL" in done.stderr and "probably a bug" not in done.stderr
        assert tables(url) == before


def test_etl_run_refuses_a_target_of_a_newer_version_and_doctor_reports_it(settings):
    with scratch_database(settings.target_url, "newer_target") as url:
        newer(url, "target")
        env = {**os.environ, **stack_variables(settings), "TARGET_DATABASE_URL": url}
        done = subprocess.run(
            [ETL, "run", "2024-10-02", "--no-report"], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1
        assert "error: The target database is at schema revision '0099'" in done.stderr, done.stderr
        assert "probably a bug" not in done.stderr
        checks = diagnose(settings.model_copy(update={"target_database_url": url}))
        assert down_parts(checks) == ["database"]
        problem = next(check for check in checks if check.name == "target schema")
        assert not problem.ok and "schema revision '0099'" in problem.detail and "git pull" in problem.fix
        doctor = subprocess.run([ETL, "doctor"], env=env, capture_output=True, text=True, timeout=120)
        assert doctor.returncode == 1
        assert "FAIL  target schema: The target database is at schema revision '0099'" in doctor.stdout
        assert doctor.stdout.rstrip().endswith("DOWN: database")
        assert tables(url)


def test_doctor_says_which_revision_each_schema_is_at(settings):
    checks = {check.name: check for check in diagnose(settings)}
    assert (
        checks["source schema"].ok
        and checks["source schema"].detail == f"revision {HEAD['source']} (this code's newest)"
    )
    assert (
        checks["target schema"].ok
        and checks["target schema"].detail == f"revision {HEAD['target']} (this code's newest)"
    )
