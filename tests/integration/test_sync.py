"""Change tracking and ``etl sync`` against the real stack: a farm of the test's own (its source, target and API),
rows arriving late, changed and in a day not over yet; the target checked against PostgreSQL's own statistics."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from etl_lib.core.fingerprints import SourceFingerprints
from etl_lib.ops.sync import plan_sync, sync_once
from etl_lib.pipeline.extract import fetch_fingerprints
from etl_lib.storage.engines import target_engine
from etl_lib.storage.run_record import read_runs, run_count
from harness.fault_servers import stack_variables
from harness.own_farm import own_farm, seed, source_of
from harness.sql import assert_statistics_equal_sql, target_day

FIRST = dt.date(2024, 10, 1)
DAYS = 6
LATE_DAY = FIRST + dt.timedelta(days=DAYS - 1 - 3)  # three days before the newest
COLUMNS = "turbine_id, timestamp, wind_speed, power, ambient_temperature"
# The fingerprints recomputed from the samples, against those the triggers keep: the rows that differ.
RECOMPUTED = """
WITH fresh AS (
    SELECT (timestamp AT TIME ZONE 'UTC')::date AS day, turbine_id, count(*) AS row_count,
           day_fingerprint_wrap(sum(day_fingerprint_hash(timestamp, wind_speed, power, ambient_temperature)))
               AS checksum,
           max(timestamp) AS last_timestamp
    FROM data GROUP BY 1, 2)
SELECT count(*) FROM day_fingerprint f FULL JOIN fresh x USING (day, turbine_id)
WHERE f.day IS NULL OR x.day IS NULL OR f.row_count <> x.row_count OR f.checksum <> x.checksum
   OR f.last_timestamp <> x.last_timestamp
"""


@pytest.fixture
def farm(settings):
    with own_farm(settings) as own:
        seed(own, days=DAYS)
        yield own


def execute(own, sql: str, **params):
    with source_of(own).begin() as conn:
        result = conn.execute(text(sql), params)
        return result.all() if result.returns_rows else None


def sync(own) -> list[str]:
    said: list[str] = []
    assert sync_once(own, say=said.append).ok, said
    return said


def ran_lines(said: list[str]) -> list[str]:
    return [line for line in said if line.startswith("run ")]


def target_fingerprint(own) -> tuple:
    """The target's data, whole: rows and a checksum of every value (and the run records)."""
    with target_engine(own).connect() as conn:
        rows, digest = conn.execute(
            text(
                "SELECT count(*), md5(string_agg(signal_id || ':' || timestamp || ':' || value, ',' ORDER BY signal_id, timestamp)) FROM data"
            )
        ).one()
    return rows, digest, run_count(target_engine(own))


def assert_complete_buckets_equal_sql(own, day: dt.date, until: dt.datetime | None = None) -> None:
    assert_statistics_equal_sql(source_of(own), target_engine(own), day, until)


def test_the_triggers_keep_every_fingerprint_equal_to_one_recomputed_from_the_samples(farm):
    assert execute(farm, RECOMPUTED) == [(0,)]
    assert execute(farm, "SELECT count(*) FROM day_fingerprint") == [(4 * DAYS,)]
    execute(farm, "UPDATE data SET power = power + 1 WHERE turbine_id = 2 AND timestamp = '2024-10-03 12:00Z'")
    execute(farm, "DELETE FROM data WHERE turbine_id = 1 AND timestamp >= '2024-10-06 23:00Z'")  # the newest rows
    execute(farm, "DELETE FROM data WHERE turbine_id = 3 AND timestamp >= '2024-10-05' AND timestamp < '2024-10-06'")
    execute(
        farm,
        "UPDATE data SET timestamp = timestamp + interval '1 day' WHERE turbine_id = 4 AND timestamp >= '2024-10-06 22:00Z'",
    )
    execute(
        farm,
        "SET LOCAL TimeZone = 'Asia/Tokyo'; SET LOCAL extra_float_digits = 0; "
        f"INSERT INTO data ({COLUMNS}) SELECT turbine_id, timestamp + interval '7 days', wind_speed, power, "
        "ambient_temperature FROM data WHERE timestamp < '2024-10-01 06:00Z'",
    )
    assert execute(farm, RECOMPUTED) == [(0,)]
    assert execute(farm, "SELECT count(*) FROM day_fingerprint WHERE turbine_id = 3 AND day = '2024-10-05'") == [(0,)]
    seed(farm, days=2)  # a reseed truncates the samples: the fingerprints follow
    assert execute(farm, RECOMPUTED) == [(0,)]
    assert execute(farm, "SELECT count(*) FROM day_fingerprint") == [(4 * 2,)]


def test_the_api_serves_the_fingerprints_the_source_keeps(farm):
    stated = fetch_fingerprints(farm, FIRST, FIRST + dt.timedelta(days=DAYS), turbines=["WT02"])
    assert isinstance(stated, SourceFingerprints) and stated.version is not None
    assert [(f.turbine, f.day) for f in stated.fingerprints] == [
        ("WT02", FIRST + dt.timedelta(days=d)) for d in range(DAYS)
    ]
    kept = execute(farm, "SELECT row_count, checksum FROM day_fingerprint WHERE turbine_id = 2 ORDER BY day")
    assert [(f.rows, int(f.checksum, 16)) for f in stated.fingerprints] == [(rows, c % 2**64) for rows, c in kept]
    assert stated.newest == dt.datetime.combine(FIRST + dt.timedelta(days=DAYS - 1), dt.time(23, 59), dt.UTC)


def test_late_rows_three_days_back_make_exactly_that_day_run_again_and_equal_sql(farm):
    late = execute(
        farm,
        f"DELETE FROM data WHERE turbine_id = 2 AND timestamp >= :start AND timestamp < :start + interval '12 minutes' "
        f"RETURNING {COLUMNS}",
        start=dt.datetime.combine(LATE_DAY, dt.time(14, 3), dt.UTC),
    )
    said = sync(farm)
    assert len(ran_lines(said)) == DAYS and all("new day" in line for line in ran_lines(said))
    runs = run_count(target_engine(farm))
    with source_of(farm).begin() as conn:  # the logger comes back: its 12 rows arrive in one batch
        conn.execute(
            text(
                f"INSERT INTO data ({COLUMNS}) VALUES (:turbine_id, :timestamp, :wind_speed, :power, :ambient_temperature)"
            ),
            [row._asdict() for row in late],
        )
    said = sync(farm)
    assert ran_lines(said) == [f"run {LATE_DAY.isoformat()} WF01: 12 rows late for WT02"]
    assert run_count(target_engine(farm)) == runs + 1
    assert_complete_buckets_equal_sql(farm, LATE_DAY)


def test_a_changed_value_is_found_and_a_sync_with_nothing_changed_runs_and_writes_nothing(farm):
    sync(farm)
    before = target_fingerprint(farm)
    assert sync(farm)[-1] == "nothing to do"
    assert target_fingerprint(farm) == before  # no run recorded, no value written
    day = FIRST + dt.timedelta(days=1)
    execute(
        farm, "UPDATE data SET wind_speed = wind_speed + 0.1 WHERE turbine_id = 3 AND timestamp = '2024-10-02 07:41Z'"
    )
    plan = plan_sync(farm)
    assert [(d.day, d.farm, d.reasons) for d in plan.days] == [(day, "WF01", ("values changed for WT03",))]
    sync(farm)
    assert_complete_buckets_equal_sql(farm, day)


def test_a_day_not_over_yet_runs_up_to_its_last_complete_bucket(farm):
    sync(farm)
    today = FIRST + dt.timedelta(days=DAYS)  # the day after the seeded ones: its samples up to 10:34 so far
    execute(
        farm,
        f"INSERT INTO data ({COLUMNS}) SELECT turbine_id, timestamp + interval '1 day', wind_speed, power, "
        "ambient_temperature FROM data WHERE timestamp >= :start AND timestamp < :start + interval '10 hours 35 minutes'",
        start=dt.datetime.combine(today - dt.timedelta(days=1), dt.time(), dt.UTC),
    )
    said = sync(farm)
    assert ran_lines(said) == [f"run {today.isoformat()} WF01: new day (complete until 10:30)"]
    until = dt.datetime.combine(today, dt.time(10, 30), dt.UTC)
    record = read_runs(target_engine(farm), today).iloc[-1]
    assert pd.Timestamp(record["complete_until"]) == until
    assert set(record["fingerprints"]) == {"WT01", "WT02", "WT03", "WT04"}
    assert record["fingerprints"]["WT01"]["rows"] == 635
    written = target_day(target_engine(farm), today)
    assert written.index.get_level_values("timestamp").max() == until - dt.timedelta(minutes=10)  # 10:30 is not
    assert_complete_buckets_equal_sql(farm, today, until)
    assert sync(farm)[-1] == "nothing to do"
    # The next minutes arrive, completing the 10:30 bucket: the day runs again, one bucket further.
    execute(
        farm,
        f"INSERT INTO data ({COLUMNS}) SELECT turbine_id, timestamp + interval '1 day', wind_speed, power, "
        "ambient_temperature FROM data WHERE timestamp >= :start AND timestamp < :start + interval '5 minutes'",
        start=dt.datetime.combine(today - dt.timedelta(days=1), dt.time(10, 35), dt.UTC),
    )
    grown = "; ".join(f"5 rows more for WT0{n}, the newest at 10:39" for n in range(1, 5))
    assert ran_lines(sync(farm)) == [f"run {today.isoformat()} WF01: {grown}; now complete until 10:40"]
    assert_complete_buckets_equal_sql(farm, today, until + dt.timedelta(minutes=10))


ETL = str(Path(sys.executable).parent / "etl")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_watch_syncs_every_round_and_stops_cleanly_on_a_signal(farm, signum):
    """``etl sync --watch``: the first round runs the new days, the next ones find nothing, late rows are run in
    the round after they arrive; a signal ends it after the round under way, exit 0."""
    watch = subprocess.Popen(
        [ETL, "sync", "--watch", "0.5"],
        env={**os.environ, **stack_variables(farm)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    said: list[str] = []
    phase = 0  # 0: the first rounds; 1: a row deleted, waiting for its run; 2: run, waiting for a quiet round
    try:
        for line in watch.stdout:
            said.append(line.rstrip("\n"))
            if phase == 0 and said[-1] == "nothing to do":
                execute(farm, "DELETE FROM data WHERE turbine_id = 4 AND timestamp = '2024-10-02 03:00Z'")
                phase = 1
            elif phase == 1 and "rows gone for WT04" in said[-1]:
                phase = 2
            elif phase == 2 and said[-1] == "nothing to do":
                watch.send_signal(signum)
                phase = 3
    finally:
        if watch.poll() is None and phase != 3:
            watch.send_signal(signum)
        code = watch.wait(timeout=60)
    assert code == 0, watch.stderr.read()
    runs = [line for line in said if line.startswith("run ")]
    assert len(runs) == DAYS + 1
    assert runs[-1] == "run 2024-10-02 WF01: 1 rows gone for WT04"
    assert phase == 3 and "stopped after" in said[-1], said
