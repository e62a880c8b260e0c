"""Dagster and the command line agree: a day run by `etl run` or `etl backfill` shows in a real Dagster
instance (a temporary DAGSTER_HOME) as materialized, with the metadata a materialization by Dagster
carries; a run of named turbines is an observation that leaves the farm's materialization standing;
the day's checks read the run that stands; and without DAGSTER_HOME the command line never imports
Dagster."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from dagster import AssetCheckSeverity, AssetKey, AssetRecordsFilter, DagsterInstance

from etl_lib.orchestration.assets import ASSET_NAME, record_metadata, report_metadata
from etl_lib.orchestration.definitions import defs as load_defs
from etl_lib.orchestration.verdicts import NO_SAMPLES
from etl_lib.storage.run_record import read_runs
from harness.process_faults import ETL, etl

KEY = AssetKey(ASSET_NAME)
GAP_DAY = dt.date(2024, 10, 1)  # the seeded logger outage: WT03 has no rows from 13:20 for 35 minutes


@pytest.fixture
def dagster_home(tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def materializations(home, day: dt.date) -> list:
    with DagsterInstance.from_config(str(home)) as instance:
        found = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=KEY, asset_partitions=[f"{day.isoformat()}|WF01"]), 10
        )
        return [record.asset_materialization for record in found.records]


def observations(home, day: dt.date) -> list:
    with DagsterInstance.from_config(str(home)) as instance:
        found = instance.fetch_observations(
            AssetRecordsFilter(asset_key=KEY, asset_partitions=[f"{day.isoformat()}|WF01"]), 10
        )
        return [record.asset_observation for record in found.records]


def values(metadata: dict) -> dict:
    return {key: value.value for key, value in metadata.items()}


def test_a_day_run_by_etl_run_is_materialized_in_dagster_with_the_assets_metadata(
    settings, target_engine, dagster_home, tmp_path
):
    """Days run by the command line showed as Missing in Dagster."""
    runs = tmp_path / "runs"
    env = {"DAGSTER_HOME": str(dagster_home), "ETL_RUNS_DIR": str(runs)}
    done = etl("run", GAP_DAY.isoformat(), env=env)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr

    record = read_runs(target_engine, GAP_DAY).iloc[-1].to_dict()
    report = runs / f"{GAP_DAY}.ipynb"
    [materialization] = materializations(dagster_home, GAP_DAY)
    expected = values({**report_metadata(report), **record_metadata(record)})  # what the asset itself reports
    shown = values(materialization.metadata)
    assert {key: shown[key] for key in expected} == expected
    assert shown["etl_run"] == record["id"] and shown["run key"] == record["key"]
    assert shown["quality/WT03/power"] == pytest.approx(record["quality"]["WT03"]["power"])
    assert "report" in expected and report.with_suffix(".html").exists()  # linked as its HTML export, as by Dagster
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert instance.get_materialized_partitions(KEY) == {f"{GAP_DAY.isoformat()}|WF01"}

    # A run of one turbine re-runs part of the day: an observation, and the farm's materialization stands.
    one = etl("run", GAP_DAY.isoformat(), "--turbines", "WT01", env=env)
    assert one.returncode == 0, one.stderr
    [observation] = observations(dagster_home, GAP_DAY)
    assert values(observation.metadata)["turbines"] == ["WT01"]
    assert [values(m.metadata)["etl_run"] for m in materializations(dagster_home, GAP_DAY)] == [record["id"]]

    # The day's checks, in that instance: the logger outage is a warning, and quality is the farm run's.
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        result = (
            load_defs()
            .resolve_job_def("daily_checks_job")
            .execute_in_process(tags={"dagster/partition": f"{GAP_DAY.isoformat()}|WF01"}, instance=instance)
        )
    checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    buckets = checks["all_buckets_written"]
    assert not buckets.passed and buckets.severity == AssetCheckSeverity.WARN, buckets.description
    assert set(buckets.metadata["missing_by_reason"].value) == {NO_SAMPLES}
    assert f"(first at {GAP_DAY}T13:20Z)" in buckets.description and "WT03/power_mean 3" in buckets.description
    quality = checks["quality_above_threshold"]
    assert quality.passed and quality.metadata["etl_run"].value == record["id"]  # not the WT01 run's
    assert "the lowest is WT03/power at 97.6%" in quality.description


def test_days_run_by_etl_backfill_are_materialized_in_dagster(settings, target_engine, dagster_home, tmp_path):
    days = [dt.date(2024, 10, 2), dt.date(2024, 10, 3)]
    done = etl("backfill", *map(str, days), "--workers", "2", env={"DAGSTER_HOME": str(dagster_home)})
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert instance.get_materialized_partitions(KEY) == {f"{day.isoformat()}|WF01" for day in days}
    for day in days:
        record = read_runs(target_engine, day).iloc[-1].to_dict()
        [materialization] = materializations(dagster_home, day)
        expected = values(record_metadata(record))
        assert {key: values(materialization.metadata)[key] for key in expected} == expected


def test_without_dagster_home_the_command_line_never_imports_dagster(settings):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", ETL, "run", "2024-10-04", "--no-report"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "etl_lib" in imported and "dagster" not in imported
