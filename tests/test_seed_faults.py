"""`etl seed` puts the documented faults into the default data; `etl seed --clean` leaves them out.

Runs the real CLI against a scratch database of the test server, so the shared source stays as it is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from etl_lib.seed_faults import DEFAULT_FAULTS

ETL = str(Path(sys.executable).parent / "etl")
SCRATCH = "scratch_seed"


@pytest.fixture()
def scratch_source(settings):
    admin = create_engine(settings.embedded_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH}"))
        conn.execute(text(f"CREATE DATABASE {SCRATCH}"))
    url = settings.embedded_url(SCRATCH)
    engine = create_engine(url)
    try:
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)"))
        admin.dispose()


def seed(url: str, *args: str) -> str:
    env = {**os.environ, "SOURCE_DATABASE_URL": url}
    done = subprocess.run([ETL, "seed", "--days", "1", *args], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def day_counts(engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(conn.execute(text("SELECT count(*), count(wind_speed), count(power) FROM data")).one())


def test_seed_has_the_faults_of_the_first_day_and_clean_has_none(scratch_source):
    url, engine = scratch_source
    first_day = [f for f in DEFAULT_FAULTS if f.start.date().isoformat() == "2024-10-01"]
    gap = sum(f.minutes for f in first_day if f.kind == "gap")
    wind_nulls = sum(f.minutes for f in first_day if f.kind == "null" and f.variable == "wind_speed")
    power_nulls = sum(f.minutes for f in first_day if f.kind == "null" and f.variable == "power")

    assert "clean" in seed(url, "--clean")
    assert day_counts(engine) == (1440, 1440, 1440)

    seed(url)  # replaces the day, now with its faults
    rows = 1440 - gap
    assert (gap, wind_nulls, power_nulls) == (35, 3, 1)
    assert day_counts(engine) == (rows, rows - wind_nulls, rows - power_nulls)
