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

from etl_lib.simulation.faults import DEFAULT_FAULTS
from harness.stack import scratch_database

ETL = str(Path(sys.executable).parent / "etl")


@pytest.fixture()
def scratch_source(settings):
    with scratch_database(settings.source_url, "scratch_seed") as url:
        engine = create_engine(url)
        try:
            yield url, engine
        finally:
            engine.dispose()


def seed(url: str, *args: str) -> str:
    env = {**os.environ, "SOURCE_DATABASE_URL": url}
    done = subprocess.run([ETL, "seed", *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def counts(engine, day: str = "2024-10-01") -> dict[str, tuple[int, int, int]]:
    """Per turbine: rows, non-null wind speeds and powers of ``day``."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.name, count(*), count(wind_speed), count(power) FROM data d JOIN turbine t ON t.id = d.turbine_id "
                "WHERE d.timestamp >= :d AND d.timestamp < CAST(:d AS timestamptz) + interval '1 day' GROUP BY 1 ORDER BY 1"
            ),
            {"d": day},
        ).all()
    return {name: (n, wind, power) for name, n, wind, power in rows}


def test_seed_has_the_faults_of_the_first_day_on_their_turbines_and_clean_has_none(scratch_source):
    url, engine = scratch_source
    first_day = [f for f in DEFAULT_FAULTS if f.start.date().isoformat() == "2024-10-01"]

    assert "clean" in seed(url, "--days", "1", "--clean")
    assert counts(engine) == dict.fromkeys(("WT01", "WT02", "WT03", "WT04"), (1440, 1440, 1440))

    seed(url, "--days", "1")  # replaces the farm, now with its faults
    expected = {}
    for name in ("WT01", "WT02", "WT03", "WT04"):
        own = [f for f in first_day if f.turbine == name]
        rows = 1440 - sum(f.minutes for f in own if f.kind == "gap")
        wind = rows - sum(f.minutes for f in own if f.kind == "null" and f.variable == "wind_speed")
        power = rows - sum(f.minutes for f in own if f.kind == "null" and f.variable == "power")
        expected[name] = (rows, wind, power)
    assert expected == {
        "WT01": (1440, 1437, 1439),
        "WT02": (1440, 1440, 1440),
        "WT03": (1405, 1405, 1405),
        "WT04": (1440, 1440, 1440),
    }
    assert counts(engine) == expected


def test_a_larger_farm_of_chosen_models_and_a_user_curve_then_the_default_again(scratch_source, tmp_path):
    url, engine = scratch_source
    curve = tmp_path / "My-3000.csv"
    curve.write_text("# name: My/3000\n# hub_height: 105\nwind_speed,power\n3,0\n4,120\n8,1400\n12,3000\n25,3000\n")
    out = seed(url, "--days", "2", "--turbines", "12", "--models", f"N90/2500,{curve}")
    assert "12 turbine(s) of N90/2500" in out
    with engine.connect() as conn:
        farm = conn.execute(text("SELECT name, model FROM turbine ORDER BY name")).all()
        model = conn.execute(
            text("SELECT rated_power, hub_height, curve_power FROM turbine_model WHERE name = 'My/3000'")
        ).one()
        rows = conn.execute(text("SELECT count(*) FROM data")).scalar_one()
    assert [name for name, _ in farm] == [f"WT{n:02d}" for n in range(1, 13)]
    assert [m for _, m in farm] == ["N90/2500"] * 6 + ["My/3000"] * 6
    assert tuple(model) == (3000.0, 105.0, [0.0, 120.0, 1400.0, 3000.0, 3000.0])
    assert rows == 12 * 2 * 1440 - 35  # WT03's logger outage of the default faults

    seed(url, "--days", "1", "--clean")  # the default farm again, and a shorter period: nothing else remains
    assert counts(engine) == dict.fromkeys(("WT01", "WT02", "WT03", "WT04"), (1440, 1440, 1440))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM data")).scalar_one() == 4 * 1440
        assert conn.execute(text("SELECT count(*) FROM turbine_model")).scalar_one() == 2


def test_a_bad_model_table_is_refused_with_file_line_and_fix(scratch_source, tmp_path):
    url, _ = scratch_source
    bad = tmp_path / "bad.csv"
    bad.write_text("wind_speed,power\n3,0\n5,200\n4,100\n")
    done = subprocess.run(
        [ETL, "seed", "--days", "1", "--models", str(bad)],
        capture_output=True,
        text=True,
        env={**os.environ, "SOURCE_DATABASE_URL": url},
        timeout=120,
    )
    assert done.returncode != 0
    assert f"{bad}, line 4: wind speed 4 m/s is not above the previous row's 5 m/s" in done.stderr
    assert "What to do: Sort the rows by wind speed" in done.stderr and "Traceback" not in done.stderr


def seeded_days(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT timestamp::date::text, count(*) FROM data GROUP BY 1 ORDER BY 1")).all()
    return dict(rows)


def test_seed_replaces_the_whole_source_so_a_long_period_can_shrink_again(scratch_source):
    url, engine = scratch_source
    seed(url, "--clean", "--days", "3")
    assert seeded_days(engine) == {"2024-10-01": 4 * 1440, "2024-10-02": 4 * 1440, "2024-10-03": 4 * 1440}
    seed(url, "--clean", "--days", "1", "--start", "2024-10-02")
    assert seeded_days(engine) == {"2024-10-02": 4 * 1440}
