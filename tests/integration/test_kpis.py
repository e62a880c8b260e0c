"""What the farm did, through the real parts: the status log through the API, the KPIs in the target against
the simulator's truth, and `etl kpis` as a user runs it."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from etl_lib.core.contract import DEFAULT_PERIOD_DAYS, DEFAULT_PERIOD_START
from etl_lib.metrics.kpis import COLUMNS, LOSSES, sum_rule_error
from etl_lib.pipeline.run import run_etl
from etl_lib.simulation.faults import DEFAULT_FAULTS
from etl_lib.storage.query import read_kpis
from etl_lib.storage.run_record import standing_run
from harness.farm_data import simulated

ETL = str(Path(sys.executable).with_name("etl"))
OUTAGE_DAY = dt.date(2024, 10, 8)  # WT04: gearbox fault 13:30-19:10 (docs/kpis.md)
TURBINES = ["WT01", "WT02", "WT03", "WT04"]


@pytest.fixture(scope="module")
def truth():
    """The default data as the simulator made it, with each minute's true potential power."""
    return simulated(DEFAULT_PERIOD_START, DEFAULT_PERIOD_DAYS, DEFAULT_FAULTS)


def etl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ETL, *args], capture_output=True, text=True, timeout=120)


def test_the_status_log_comes_through_the_api_whole(api):
    answer = api.get("/events", params={"start": "2024-10-08T00:00:00Z", "end": "2024-10-09T00:00:00Z"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == len(body["events"]) > 0 and list(body)[-1] == "count"
    outage = [e for e in body["events"] if e["code"] == 53]
    assert [(e["turbine"], e["start_time"], e["end_time"], e["category"]) for e in outage] == [
        ("WT04", "2024-10-08T13:30:00+00:00", "2024-10-08T19:10:00+00:00", "forced_outage")
    ]
    assert {e["turbine"] for e in body["events"]} == set(TURBINES)
    one = api.get("/events", params={"start": "2024-10-08", "end": "2024-10-09", "turbines": "WT04"}).json()
    assert {e["turbine"] for e in one["events"]} == {"WT04"} and one["count"] == len(one["events"])
    codes = api.get("/status-codes").json()["status_codes"]
    assert {"code": 53, "description": "Fault: gearbox oil temperature high", "category": "forced_outage"} in codes
    for bad, message in (
        ({"start": "2024-10-09", "end": "2024-10-08"}, "must be before"),
        ({"start": "2024-10-08", "end": "2024-10-09", "turbines": "WT99"}, "Unknown turbine"),
        ({"start": "2024-10-08", "end": "2024-10-09", "x": "1"}, "x"),
    ):
        refused = api.get("/events", params=bad)
        assert refused.status_code == 422 and message in refused.json()["detail"]


def test_the_events_of_an_interval_are_those_that_overlap_it_on_either_bound(api, source_engine):
    """An event ``[start_time, end_time)`` (open: to infinity) is in the answer for ``[start, end)`` exactly when the
    two overlap: the API finds them through the period index (source revision 0008), checked here against every
    event of the log filtered in Python, for intervals that begin or end on the gearbox outage's bounds."""
    with source_engine.connect() as conn:
        log = conn.execute(
            text("SELECT t.name, e.start_time, e.end_time FROM turbine_event e JOIN turbine t ON t.id = e.turbine_id")
        ).all()
    begins, ends = dt.datetime(2024, 10, 8, 13, 30, tzinfo=dt.UTC), dt.datetime(2024, 10, 8, 19, 10, tzinfo=dt.UTC)
    minute, hour = dt.timedelta(minutes=1), dt.timedelta(hours=1)
    for start, end in (
        (begins - hour, begins),  # ends where the outage begins: not in it
        (begins - hour, begins + minute),
        (ends, ends + hour),  # begins where the outage ends: not in it
        (ends - minute, ends),
        (dt.datetime(2024, 9, 1, tzinfo=dt.UTC), dt.datetime(2024, 12, 1, tzinfo=dt.UTC)),  # the whole log
    ):
        answer = api.get("/events", params={"start": start.isoformat(), "end": end.isoformat()}).json()
        got = sorted((e["turbine"], e["start_time"], e["end_time"]) for e in answer["events"])
        expected = sorted(
            (name, first.astimezone(dt.UTC).isoformat(), None if last is None else last.astimezone(dt.UTC).isoformat())
            for name, first, last in log
            if first < end and (last is None or last > start)
        )
        assert got == expected and answer["count"] == len(expected) > 0, (start, end)
    outage = ("WT04", begins.isoformat(), ends.isoformat())
    around = api.get("/events", params={"start": (begins - hour).isoformat(), "end": begins.isoformat()}).json()
    assert outage not in [(e["turbine"], e["start_time"], e["end_time"]) for e in around["events"]]


def test_the_default_data_s_status_log_explains_every_stop(target_engine):
    """Over the ten default days as the stack ran them: no check finds a stop in wind (a stop the log does not
    explain is flagged stopped_in_wind or stopped_iced), every minute's category comes from the log (none
    inferred), and the only forced outage is the logged one: WT04's gearbox fault of 2024-10-08."""
    last = DEFAULT_PERIOD_START + dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    for day in pd.date_range(DEFAULT_PERIOD_START, last).date:
        record = standing_run(target_engine, day)
        assert record is not None, day
        stops = {
            (turbine, check): counts["power"]
            for turbine, checks in record["flag_counts"].items()
            for check, counts in checks.items()
            if check in ("stopped_in_wind", "stopped_iced") and counts.get("power")
        }
        assert stops == {}, (day, stops)
    rows = read_kpis(DEFAULT_PERIOD_START, last, engine=target_engine)
    assert len(rows) == DEFAULT_PERIOD_DAYS * len(TURBINES) and (rows["inferred_minutes"] == 0).all()
    outages = rows[rows["minutes_forced_outage"] > 0]
    assert [(d, t, m) for d, t, m in outages[["day", "turbine", "minutes_forced_outage"]].itertuples(index=False)] == [
        (OUTAGE_DAY, "WT04", 340)
    ]


def test_a_day_s_kpis_in_the_target_agree_with_the_simulator_and_add_up(settings, target_engine, truth):
    result = run_etl(OUTAGE_DAY, settings)
    rows = read_kpis(OUTAGE_DAY, OUTAGE_DAY, engine=target_engine).set_index("turbine")
    assert list(rows.index) == TURBINES and (rows["day"] == OUTAGE_DAY).all()
    assert sum_rule_error(rows).abs().max() < 1e-6
    window = pd.date_range("2024-10-08T13:30Z", periods=340, freq="1min")
    lost = truth.potential["WT04"].reindex(window).sum() / 60
    assert lost > 2000
    assert rows.loc["WT04", "lost_kwh_forced_outage"] == pytest.approx(lost, rel=0.02)
    assert rows.loc["WT04", "minutes_forced_outage"] == 340 and rows.loc["WT04", "inferred_minutes"] == 0
    assert (rows.drop(index="WT04")[["lost_kwh_forced_outage", "minutes_forced_outage"]] == 0).all().all()
    # What the turbines produced is what the source says they produced.
    produced = truth.samples["power"].xs("WT04", level="turbine").loc["2024-10-08"].sum() / 60
    assert rows.loc["WT04", "energy_kwh"] == pytest.approx(produced, rel=1e-9)
    # The run's quality: a stop the log explains is no fault of the data.
    assert result.quality.day_quality()["WT04"]["power"] == 1.0


def test_a_re_run_replaces_the_day_s_kpis_and_one_turbine_s_leaves_the_others(settings, target_engine):
    first = run_etl(OUTAGE_DAY, settings)
    before = read_kpis(OUTAGE_DAY, OUTAGE_DAY, engine=target_engine).set_index("turbine")
    run_etl(OUTAGE_DAY, settings, turbines=["WT02"])
    after = read_kpis(OUTAGE_DAY, OUTAGE_DAY, engine=target_engine).set_index("turbine")
    assert list(after.index) == TURBINES  # replaced, never duplicated
    figures = [c for c in after.columns if c != "day"]
    pd.testing.assert_frame_equal(after.drop(index="WT02")[figures], before.drop(index="WT02")[figures])
    assert first.run_id is not None


def test_etl_kpis_prints_the_documented_columns_by_month_for_the_farm_and_per_turbine(settings, tmp_path):
    for offset in range(DEFAULT_PERIOD_DAYS):
        run_etl(DEFAULT_PERIOD_START + dt.timedelta(days=offset), settings)
    done = etl("kpis", "2024-10-01", "2024-10-10", "--by", "month", "--format", "csv")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(io.StringIO(done.stdout))
    assert list(table.columns) == ["period", "farm", *COLUMNS[1:]] and set(table["farm"]) == {"WF01"}
    assert (
        table["turbine"].tolist() == TURBINES and (table["period"] == "2024-10").all() and (table["days"] == 10).all()
    )
    for column in LOSSES:
        assert column in table
    farm = pd.read_csv(
        io.StringIO(etl("kpis", "2024-10-01", "2024-10-10", "--by", "month", "--total", "--format", "csv").stdout)
    )
    assert farm["turbine"].tolist() == ["farm"]
    assert farm.loc[0, "energy_kwh"] == pytest.approx(table["energy_kwh"].sum())
    assert farm.loc[0, "time_availability"] < 1  # the grid fault, the maintenance, the outage, the shutdown
    daily = etl("kpis", "2024-10-04", "2024-10-04")
    assert daily.returncode == 0 and "WT02" in daily.stdout and "%" in daily.stdout
    out = tmp_path / "kpis.parquet"
    assert etl("kpis", "2024-10-01", "2024-10-10", "--format", "parquet", "--out", str(out)).returncode == 0
    assert len(pd.read_parquet(out)) == 4 * 10
    empty = etl("kpis", "2024-12-01", "2024-12-05")
    assert empty.returncode != 0 and "holds no KPIs for 2024-12-01 to 2024-12-05" in empty.stderr
    assert "etl backfill 2024-12-01 2024-12-05" in empty.stderr and "Traceback" not in empty.stderr
    reversed_range = etl("kpis", "2024-10-05", "2024-10-01")
    assert reversed_range.returncode != 0 and "START is after END" in reversed_range.stderr
