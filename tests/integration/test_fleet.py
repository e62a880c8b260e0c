"""A fleet of farms end to end, in a throw-away stack of its own (``harness.stack.temporary_stack``) seeded
with two farms of four turbines, WF01 (WT01 to WT04, the default farm's site) and WF02 (WT05 to WT08, 110 m
higher, in its own weather), over three days: the API's farms and farm filter; each farm-day's target rows
equal to PostgreSQL's statistics of that farm's source rows; a run of one farm leaving the other's rows
untouched, whatever the other's weather; the command line's farm (errors that list the farms, reports in
each farm's folder, backfills of every farm-day, KPIs per farm and for the fleet, a summary per farm); and
Dagster's partitions farm x day."""

from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, MultiPartitionKey, build_schedule_context, materialize
from sqlalchemy import text

from etl_lib.core.contract import DEFAULT_PERIOD_START, etl_signal_names
from etl_lib.core.errors import FarmChoiceError
from etl_lib.metrics.kpis import FARM, FLEET
from etl_lib.notebook.recorded import report_key
from etl_lib.ops.backfill import run_backfill
from etl_lib.orchestration.assets import build_daily_statistics
from etl_lib.orchestration.checks import build_checks
from etl_lib.orchestration.coverage import partition_key, source_partitions
from etl_lib.orchestration.definitions import build_defs
from etl_lib.orchestration.kpis import build_daily_kpis, build_monthly_kpis
from etl_lib.orchestration.resources import SourceApi, TargetDatabase
from etl_lib.pipeline.run import run_etl
from etl_lib.reports import kpis as kpi_report
from etl_lib.reports import runs_summary as rs
from etl_lib.storage.engines import engine_for
from etl_lib.storage.run_record import read_runs
from harness.process_faults import etl
from harness.sql import statistics_in_sql, target_day
from harness.stack import stack_env, temporary_stack

DAYS = 3
FIRST, SECOND, THIRD = (DEFAULT_PERIOD_START + dt.timedelta(days=offset) for offset in range(DAYS))
OUTSIDE = DEFAULT_PERIOD_START + dt.timedelta(days=DAYS)  # the fleet's source ends before it
TURBINES = {"WF01": ["WT01", "WT02", "WT03", "WT04"], "WF02": ["WT05", "WT06", "WT07", "WT08"]}


@pytest.fixture(scope="module")
def fleet():
    """The fleet's stack; every farm-day run once through the library."""
    with temporary_stack(DAYS, farms=2, export_env=False, run_days=True) as settings:
        yield settings


@pytest.fixture(scope="module")
def source(fleet):
    return engine_for(fleet.source_url)


@pytest.fixture(scope="module")
def target(fleet):
    return engine_for(fleet.target_url)


@pytest.fixture(scope="module")
def fleet_api(fleet):
    import httpx

    with httpx.Client(base_url=fleet.api_base_url, timeout=30) as client:
        yield client


def cli(fleet, *args: str, timeout: float = 180):
    return etl(*args, env=stack_env(fleet), timeout=timeout)


def assert_farm_day_matches_the_source(source, target, day: dt.date, farm: str) -> None:
    expected = statistics_in_sql(source, day, farm)
    actual = target_day(target, day, farm)
    assert set(expected.index.get_level_values("turbine")) == set(TURBINES[farm])
    assert set(actual.index.get_level_values("turbine")) == set(TURBINES[farm])
    assert expected.index.isin(actual.index).all()
    np.testing.assert_allclose(actual.loc[expected.index].to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-9)


# --- the source and the API ---------------------------------------------------------------------------


def test_the_api_lists_the_farms_and_keeps_every_route_to_the_farm_asked_for(fleet_api):
    farms = fleet_api.get("/farms").json()["farms"]
    assert [(f["name"], f["turbines"], f["elevation"]) for f in farms] == [("WF01", 4, 8.0), ("WF02", 4, 118.0)]
    assert farms[0]["latitude"] == pytest.approx(54.43) and farms[1]["longitude"] > farms[0]["longitude"]

    turbines = fleet_api.get("/turbines", params={"farm": "WF02"}).json()["turbines"]
    assert [(t["name"], t["farm"], t["elevation"]) for t in turbines] == [(n, "WF02", 118.0) for n in TURBINES["WF02"]]
    assert [t["farm"] for t in fleet_api.get("/turbines").json()["turbines"]] == ["WF01"] * 4 + ["WF02"] * 4

    day = {"start": f"{SECOND}T00:00:00Z", "end": f"{THIRD}T00:00:00Z"}
    data = fleet_api.get("/data", params={**day, "variables": "power", "farm": "WF02"}).json()
    assert data["turbines"] == TURBINES["WF02"] and {row["turbine"] for row in data["data"]} == set(TURBINES["WF02"])
    assert data["count"] == 4 * 1440
    events = fleet_api.get("/events", params={**day, "farm": "WF01"}).json()
    assert events["turbines"] == TURBINES["WF01"] and {e["turbine"] for e in events["events"]} <= set(TURBINES["WF01"])

    whole, second = (fleet_api.get("/coverage", params=p).json() for p in ({}, {"farm": "WF02"}))
    assert second["rows"] == 4 * DAYS * 1440 and whole["rows"] > second["rows"]  # WF01 carries the default gaps
    assert second["first"] == whole["first"]

    for route, params in [
        ("/turbines", {"farm": "WF09"}),
        ("/coverage", {"farm": "WF09"}),
        ("/data", {**day, "variables": "power", "farm": "WF09"}),
        ("/events", {**day, "farm": "WF09"}),
    ]:
        refused = fleet_api.get(route, params=params)
        assert refused.status_code == 422, (route, refused.text)
        assert refused.json()["detail"] == (
            "Unknown farm(s) 'WF09'. Valid farms: WF01, WF02 (GET /farms lists them)."
        ), route
    # Text no farm can be named (the farm table's CHECK): a NUL byte, which PostgreSQL refuses in any text, gave a 500.
    for route, params in [
        ("/turbines", {}),
        ("/coverage", {}),
        ("/data", {**day, "variables": "power"}),
        ("/events", day),
        ("/fingerprints", {"start": "2024-10-01", "end": "2024-10-02"}),
    ]:
        refused = fleet_api.get(route, params={**params, "farm": "W\x00F01"})
        assert refused.status_code == 422, (route, refused.text)
        assert "farm" in refused.text and "pattern" in refused.text, refused.text
    other = fleet_api.get("/data", params={**day, "variables": "power", "farm": "WF02", "turbines": "WT01"})
    assert other.status_code == 422 and "Unknown turbine(s) 'WT01'" in other.json()["detail"]
    assert "Valid turbines: WT05, WT06, WT07, WT08" in other.json()["detail"]


# --- runs of a farm's day --------------------------------------------------------------------------------


@pytest.mark.parametrize("farm", ["WF01", "WF02"])
@pytest.mark.parametrize("day", [FIRST, SECOND, THIRD])
def test_each_farm_day_equals_the_sql_statistics_of_that_farms_source_rows(fleet, source, target, farm, day):
    assert_farm_day_matches_the_source(source, target, day, farm)
    [record] = read_runs(target, day, farm).to_dict("records")[-1:]
    assert record["status"] == "succeeded" and record["turbines"] == TURBINES[farm]
    with target.connect() as conn:
        kpis = conn.execute(
            text(
                "SELECT t.name FROM turbine_day_kpi k JOIN turbine t ON t.id = k.turbine_id "
                "JOIN farm f ON f.id = t.farm_id WHERE k.day = :d AND f.name = :f AND k.run_id = :r ORDER BY 1"
            ),
            {"d": day, "f": farm, "r": record["id"]},
        ).scalars()
        assert list(kpis) == TURBINES[farm]


def test_the_target_mirrors_the_farms_and_their_turbines(fleet, target):
    with target.connect() as conn:
        farms = conn.execute(text("SELECT name, latitude, elevation FROM farm ORDER BY name")).all()
        turbines = conn.execute(
            text("SELECT t.name, f.name FROM turbine t JOIN farm f ON f.id = t.farm_id ORDER BY 1")
        ).all()
    assert [(name, elevation) for name, _, elevation in farms] == [("WF01", 8.0), ("WF02", 118.0)]
    assert farms[0][1] == pytest.approx(54.43)
    assert turbines == [(t, farm) for farm, names in TURBINES.items() for t in names]


def snapshot(target, day: dt.date, farm: str) -> dict:
    """What the target holds of a farm's day: its values, its KPI rows and its run records."""
    with target.connect() as conn:
        kpis = pd.read_sql(
            text(
                "SELECT k.* FROM turbine_day_kpi k JOIN turbine t ON t.id = k.turbine_id "
                "JOIN farm f ON f.id = t.farm_id WHERE k.day = :d AND f.name = :f ORDER BY k.turbine_id"
            ),
            conn,
            params={"d": day, "f": farm},
        )
    return {"values": target_day(target, day, farm), "kpis": kpis, "runs": read_runs(target, day, farm)}


def test_a_run_of_one_farm_leaves_the_other_farms_rows_untouched_whatever_its_weather(fleet, source, target):
    """WF01's day is run again after WF02's wind of that day was tripled in the source: WF02's rows, KPIs and
    records stay exactly as they were, and WF01's checks, statistics and KPIs come out exactly as before (no
    turbine of WF01 is judged against WF02: its farm's reference, its potential power's neighbours)."""
    before_other = snapshot(target, THIRD, "WF02")
    first = run_etl(THIRD, fleet, farm="WF01")
    before_own = snapshot(target, THIRD, "WF01")
    of_wf02 = (
        "FROM turbine t JOIN farm f ON f.id = t.farm_id WHERE t.id = d.turbine_id AND f.name = 'WF02' "
        "AND d.timestamp >= :s AND d.timestamp < :e"
    )
    bounds = {"s": f"{THIRD}T00:00Z", "e": f"{OUTSIDE}T00:00Z"}
    with source.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE saved_wf02 AS SELECT d.turbine_id, d.timestamp, d.wind_speed FROM data d, {of_wf02[5:]}"
            ),
            bounds,
        )
        conn.execute(text(f"UPDATE data d SET wind_speed = d.wind_speed * 3 {of_wf02}"), bounds)
    try:
        again = run_etl(THIRD, fleet, farm="WF01")
        after_own = snapshot(target, THIRD, "WF01")
    finally:
        with source.begin() as conn:
            conn.execute(
                text(
                    "UPDATE data d SET wind_speed = s.wind_speed FROM saved_wf02 s "
                    "WHERE s.turbine_id = d.turbine_id AND s.timestamp = d.timestamp"
                )
            )
            conn.execute(text("DROP TABLE saved_wf02"))
    pd.testing.assert_series_equal(snapshot(target, THIRD, "WF02")["values"], before_other["values"])
    pd.testing.assert_frame_equal(snapshot(target, THIRD, "WF02")["kpis"], before_other["kpis"])
    pd.testing.assert_frame_equal(snapshot(target, THIRD, "WF02")["runs"], before_other["runs"])
    assert again.summary()["flag_counts"] == first.summary()["flag_counts"]
    assert again.summary()["quality"] == first.summary()["quality"]
    pd.testing.assert_series_equal(after_own["values"], before_own["values"])
    columns = [c for c in after_own["kpis"].columns if c != "run_id"]
    pd.testing.assert_frame_equal(after_own["kpis"][columns], before_own["kpis"][columns])
    assert list(after_own["kpis"]["run_id"].unique()) == [again.run_id]


def test_a_fleet_run_names_its_farm_and_is_refused_without_one_before_anything_is_recorded(fleet, target):
    runs = len(read_runs(target))
    with pytest.raises(FarmChoiceError, match=r"holds 2 farms \(WF01, WF02\) and the run names none"):
        run_etl(SECOND, fleet)
    with pytest.raises(FarmChoiceError, match="has no farm 'WF09'"):
        run_etl(SECOND, fleet, farm="WF09")
    assert len(read_runs(target)) == runs  # no run: no record
    for args in (["--no-report"], []):
        named_none = cli(fleet, "run", SECOND.isoformat(), *args)
        assert named_none.returncode == 2, named_none.stderr
        assert named_none.stderr.startswith(
            "error: The source holds 2 farms (WF01, WF02) and the run names none: a run is one farm's day."
        ), named_none.stderr
        assert "What to do: Name the farm: `etl run DATE --farm WF01`" in named_none.stderr
        unknown = cli(fleet, "run", SECOND.isoformat(), "--farm", "WF09", *args)
        assert unknown.returncode == 2
        assert "error: The source has no farm 'WF09'." in unknown.stderr and "Pick from: WF01, WF02." in unknown.stderr
    wrong_turbine = cli(fleet, "run", SECOND.isoformat(), "--farm", "WF02", "--turbines", "WT01", "--no-report")
    assert wrong_turbine.returncode != 0 and "The farm WF02 has no turbine(s) 'WT01'" in wrong_turbine.stderr
    assert len(read_runs(target)) == runs + 1  # that one was a run of WF02, refused: recorded as failed
    done = cli(fleet, "run", SECOND.isoformat(), "--farm", "WF02", "--no-report")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["farm"] == "WF02" and summary["turbines"] == TURBINES["WF02"]


def test_a_farms_report_goes_into_its_folder_and_names_the_farm(fleet, target):
    done = cli(fleet, "run", SECOND.isoformat(), "--farm", "WF02", timeout=300)
    assert done.returncode == 0, done.stderr
    report = fleet.runs_dir / "WF02" / f"{SECOND}.ipynb"
    assert f"report: {report}" in done.stdout and report.exists()
    assert not (fleet.runs_dir / f"{SECOND}.ipynb").exists()
    record = read_runs(target, SECOND, "WF02").iloc[-1]
    assert record["report"] == str(report) and record["key"] == report_key(report)
    notebook = json.loads(report.read_text())
    header = "".join(
        next(c for c in notebook["cells"] if "report-header" in c["metadata"].get("tags", []))["outputs"][0]["data"][
            "text/plain"
        ]
    )
    assert header.startswith(f"## {SECOND} (UTC), the whole farm WF02")
    assert "-p farm WF02" in header and f"`etl run {SECOND} --farm WF02` runs the same" in header


def test_a_backfill_runs_every_farm_day_or_the_farm_named(fleet, target, fleet_api):
    covers = {farm: fleet_api.get("/coverage", params={"farm": farm}).json()["rows"] for farm in TURBINES}
    result = run_backfill([SECOND, THIRD, OUTSIDE], fleet, workers=2, progress=False)
    assert result.ok and result.farms == ["WF01", "WF02"]
    done = [(o.farm, o.run_date) for o in result.outcomes if not o.skipped]
    assert done == [("WF01", SECOND), ("WF02", SECOND), ("WF01", THIRD), ("WF02", THIRD)]
    assert result.skipped_lines() == [
        f"SKIPPED WF01 {OUTSIDE}: the source has no samples of it; farm WF01 covers {FIRST} to {THIRD} "
        f"({covers['WF01']:,} samples).",
        f"SKIPPED WF02 {OUTSIDE}: the source has no samples of it; farm WF02 covers {FIRST} to {THIRD} "
        f"({covers['WF02']:,} samples).",
    ]
    assert "4 of 6 farm-day(s) of 2 farms done, 2 skipped (no source data), 0 failed" in result.summary_line("a", "b")
    for day in (SECOND, THIRD):
        assert {run["farm"] for run in read_runs(target, day).to_dict("records")[-2:]} == {"WF01", "WF02"}

    one = run_backfill([THIRD], fleet, progress=False, farm="WF02")
    assert [(o.farm, o.run_date) for o in one.outcomes] == [("WF02", THIRD)] and one.ok
    with pytest.raises(FarmChoiceError, match="has no farm 'WF09'"):
        run_backfill([THIRD], fleet, progress=False, farm="WF09")
    refused = cli(fleet, "backfill", THIRD.isoformat(), THIRD.isoformat(), "--farm", "WF09")
    assert refused.returncode == 2 and "error: The source has no farm 'WF09'." in refused.stderr


def test_kpis_per_farm_and_the_fleets_totals(fleet, target):
    days = (FIRST.isoformat(), SECOND.isoformat())
    totals = cli(fleet, "kpis", *days, "--total", "--format", "csv")
    assert totals.returncode == 0, totals.stderr
    table = pd.read_csv(io.StringIO(totals.stdout))
    assert list(table.columns[:3]) == ["period", "farm", "turbine"] and set(table["turbine"]) == {FARM}
    assert list(table["farm"]) == ["WF01", "WF02", FLEET] * 2
    for _, day in table.groupby("period"):
        farms = day.set_index("farm")
        assert farms.loc[FLEET, "energy_kwh"] == pytest.approx(farms.loc[["WF01", "WF02"], "energy_kwh"].sum())
    per_turbine = pd.read_csv(io.StringIO(cli(fleet, "kpis", *days, "--farm", "WF02", "--format", "csv").stdout))
    assert set(per_turbine["farm"]) == {"WF02"} and sorted(set(per_turbine["turbine"])) == TURBINES["WF02"]
    one = pd.read_csv(io.StringIO(cli(fleet, "kpis", *days, "--farm", "WF02", "--total", "--format", "csv").stdout))
    assert list(one["farm"]) == ["WF02", "WF02"]  # one farm shown: no fleet row
    unknown = cli(fleet, "kpis", *days, "--farm", "WF09")
    assert unknown.returncode != 0 and "The target has no farm(s) 'WF09'" in unknown.stderr
    assert "Pick from: WF01, WF02" in unknown.stderr


def test_etl_report_summarizes_each_farms_folder_with_its_farms_kpis(fleet, target):
    done = cli(fleet, "backfill", FIRST.isoformat(), FIRST.isoformat(), "--notebooks", "--workers", "2", timeout=400)
    assert done.returncode == 0, done.stderr
    for farm in TURBINES:
        assert (fleet.runs_dir / farm / f"{FIRST}.ipynb").exists()
    summarized = cli(fleet, "report", timeout=400)
    assert summarized.returncode == 0, summarized.stderr
    for farm in TURBINES:
        folder = fleet.runs_dir / farm
        assert f"{farm} ({folder}):" in summarized.stdout
        assert (folder / "summary.ipynb").exists() and (folder / "summary.html").exists()
        assert rs.farms_in(folder, fleet) == [farm]
        rows = kpi_report.trail_kpis(rs.summarize_runs(folder, fleet).index, fleet, farms=rs.farms_in(folder, fleet))
        assert set(rows["turbine"]) == set(TURBINES[farm])
    one = cli(fleet, "report", "--farm", "WF02", timeout=400)
    assert one.returncode == 0, one.stderr
    assert f"summary: {fleet.runs_dir / 'WF02' / 'summary.ipynb'}" in one.stdout and "WF01" not in one.stdout
    unknown = cli(fleet, "report", "--farm", "WF09")
    assert unknown.returncode != 0 and "no report of farm 'WF09'" in unknown.stderr and "WF01, WF02" in unknown.stderr


# --- Dagster: partitions farm x day ------------------------------------------------------------------------


def test_dagsters_partitions_are_farm_by_day_and_a_partition_runs_its_farm(fleet, source, target, monkeypatch):
    monkeypatch.setenv("ETL_RUNS_DIR", str(fleet.runs_dir))  # the resources name the API and the target, not runs/
    partitions = source_partitions(fleet)
    assert partitions.farms == ("WF01", "WF02")
    keys = partitions.definition.get_partition_keys()
    days = partitions.definition.get_partitions_def_for_dimension("day").get_partition_keys()
    assert days[0] == FIRST.isoformat() and len(keys) == 2 * len(days)  # the days run to today
    assert keys[:2] == [f"{FIRST}|WF01", f"{FIRST}|WF02"]

    statistics = build_daily_statistics(partitions.definition, partitions.note)
    daily = build_daily_kpis(statistics, partitions.definition)
    monthly = build_monthly_kpis(daily, partitions.definition)
    resources = {"source_api": SourceApi.from_settings(fleet), "target_database": TargetDatabase.from_settings(fleet)}
    result = materialize(
        [statistics, daily, *build_checks(statistics, partitions.definition)],
        partition_key=partition_key("WF02", THIRD),
        resources=resources,
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    assert_farm_day_matches_the_source(source, target, THIRD, "WF02")
    report = fleet.runs_dir / "WF02" / f"{THIRD}.ipynb"
    record = read_runs(target, THIRD, "WF02").iloc[-1]
    assert record["key"] == result.run_id and record["report"] == str(report) and report.exists()
    [materialization] = result.asset_materializations_for_node("daily_statistics")
    assert materialization.metadata["farm"].value == "WF02"
    assert materialization.metadata["turbines"].value == TURBINES["WF02"]
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["all_buckets_written"].passed and checks["quality_above_threshold"].passed
    assert set(checks["all_buckets_written"].metadata["buckets"].value) == {
        f"{t}/{name}" for t in TURBINES["WF02"] for name in etl_signal_names()
    }
    [kpis] = result.asset_materializations_for_node("daily_kpis")
    assert set(kpis.metadata["turbines"].value) == set(TURBINES["WF02"])

    month = materialize(
        [statistics, daily, monthly],
        selection=[monthly],
        partition_key=MultiPartitionKey({"farm": "WF01", "month": "2024-10-01"}),
        resources=resources,
        instance=DagsterInstance.ephemeral(),
    )
    [rollup] = month.asset_materializations_for_node("monthly_kpis")
    assert set(rollup.metadata["turbines"].value) == set(TURBINES["WF01"]) and rollup.metadata["days"].value == DAYS


def test_the_schedule_asks_a_run_per_farm_of_the_day_that_ended(fleet):
    defs = build_defs(fleet)
    schedule = defs.resolve_schedule_def("daily_etl_schedule")
    with build_schedule_context(
        scheduled_execution_time=dt.datetime.combine(THIRD, dt.time(0, 15), dt.UTC),
        repository_def=defs.get_repository_def(),
        resources={"source_api": SourceApi.from_settings(fleet)},
    ) as context:
        requests = schedule.evaluate_tick(context).run_requests
    assert [(r.partition_key, r.run_key) for r in requests] == [
        (f"{SECOND}|WF01", f"{SECOND}|WF01"),
        (f"{SECOND}|WF02", f"{SECOND}|WF02"),
    ]
