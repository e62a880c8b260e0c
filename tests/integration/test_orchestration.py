"""Dagster: the partitioned asset, its checks, the jobs and the schedule, against the test stack.

Two partitions are materialized through Dagster (each runs the notebook with papermill):
a seeded day, and a day outside the seeded period that this module writes into the source
with gaps (and removes again), so the bucket check has something to explain. The partitions
follow the source, so the days between the two are partitions without source data: skipped.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import numpy as np
import pandas as pd
import pytest
from dagster import (
    AssetCheckSeverity,
    DagsterInstance,
    DailyPartitionsDefinition,
    build_schedule_context,
    materialize,
)

from etl_lib.core.contract import (
    DEFAULT_FARM,
    DEFAULT_PERIOD_DAYS,
    DEFAULT_PERIOD_START,
    ETL_VARIABLES,
    SOURCE_VARIABLES,
    STATISTICS,
    etl_signal_names,
)
from etl_lib.metrics.kpis import period_kpis
from etl_lib.notebook.runner import report_path
from etl_lib.orchestration.assets import SKIPPED_TAG, build_daily_statistics
from etl_lib.orchestration.checks import build_checks
from etl_lib.orchestration.coverage import (
    SourcePartitions,
    partition_key,
    source_partitions,
)
from etl_lib.orchestration.definitions import build_defs
from etl_lib.orchestration.definitions import defs as load_defs
from etl_lib.orchestration.kpis import build_daily_kpis, build_kpi_checks
from etl_lib.orchestration.resources import SourceApi, TargetDatabase, notebook_inputs
from etl_lib.orchestration.verdicts import NO_SAMPLES, ONE_SAMPLE
from etl_lib.pipeline.run import run_etl
from etl_lib.simulation import generator
from etl_lib.storage.copy import copy_frame
from etl_lib.storage.query import read_kpis
from etl_lib.storage.run_record import latest_succeeded
from harness.farm_data import day_signal_names
from harness.process_faults import clear_day
from harness.sql import statistics_in_sql, target_day
from harness.stack import free_port

SEEDED_DAY = dt.date(2024, 10, 2)
GAP_DAY = dt.date(2024, 11, 20)  # outside the seeded period; this module adds and removes it
GAP = ("02:00", "02:29")  # no samples at all: 3 buckets
LONE_POWER_BUCKET = "05:00"  # power has one sample there: its std is undefined
QUALITY = "daily_statistics_quality_above_threshold"


GAP_TURBINE, LONE_TURBINE = "WT02", "WT04"
TURBINES = ["WT01", "WT02", "WT03", "WT04"]


def gap_day_samples() -> pd.DataFrame:
    """The default farm's GAP_DAY, with half an hour missing from WT02 and one lone power sample in a
    bucket of WT04; a ``turbine_id`` column as in the source."""
    day = GAP_DAY.isoformat()
    frames = []
    for number, (turbine, frame) in enumerate(generator.generate(start=GAP_DAY, days=1), start=1):
        frame = frame.set_index("timestamp")
        if turbine.name == GAP_TURBINE:
            frame = frame.drop(frame.loc[f"{day} {GAP[0]}" : f"{day} {GAP[1]}"].index)
        if turbine.name == LONE_TURBINE:
            lone = pd.Timestamp(f"{day} {LONE_POWER_BUCKET}", tz="UTC")
            frame.loc[lone + pd.Timedelta(minutes=1) : lone + pd.Timedelta(minutes=9), "power"] = np.nan
        frames.append(frame.reset_index()[["timestamp", *SOURCE_VARIABLES]].assign(turbine_id=number))
    return pd.concat(frames, ignore_index=True)


def resources_for(settings) -> dict:
    return {"source_api": SourceApi.from_settings(settings), "target_database": TargetDatabase.from_settings(settings)}


def dagster_parts(settings, partitions: SourcePartitions | None = None) -> list:
    """The asset and its checks, over the partitions the source has now (as Dagster would load them)."""
    partitions = partitions or source_partitions(settings)
    asset = build_daily_statistics(partitions.definition, partitions.note)
    return [asset, *build_checks(asset, partitions.definition)]


def materialize_day(settings, run_date: dt.date, instance: DagsterInstance | None = None):
    return materialize(
        dagster_parts(settings),
        partition_key=partition_key(DEFAULT_FARM, run_date),
        resources=resources_for(settings),
        instance=instance or DagsterInstance.ephemeral(),
    )


def failed_day(settings, resources_from=None):
    """The asset alone for SEEDED_DAY, expected to fail; its failure (message and metadata).
    ``resources_from`` gives the resources other settings (an API or a target that is down)."""
    result = materialize(
        dagster_parts(settings)[:1],
        partition_key=partition_key(DEFAULT_FARM, SEEDED_DAY),
        resources=resources_for(resources_from or settings),
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    return failure.step_failure_data.user_failure_data


def run_checks(run_date: dt.date, min_share: float | None = None) -> dict:
    """Only the day's checks, through the job the UI and the CLI use; {check name: evaluation}."""
    run_config = {"ops": {QUALITY: {"config": {"min_share": min_share}}}} if min_share is not None else None
    # A check-only selection has no asset to take the partition from, so the partition goes in
    # as the run tag Dagster itself sets when it launches a partitioned run.
    result = (
        load_defs()
        .resolve_job_def("daily_checks_job")
        .execute_in_process(
            run_config=run_config,
            tags={"dagster/partition": f"{run_date.isoformat()}|{DEFAULT_FARM}"},
            instance=DagsterInstance.ephemeral(),
        )
    )
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def assert_target_matches_source(source_engine, target_engine, run_date: dt.date) -> None:
    expected = statistics_in_sql(source_engine, run_date)
    actual = target_day(target_engine, run_date)
    assert expected.index.isin(actual.index).all()
    np.testing.assert_allclose(actual.loc[expected.index].to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-9)


@pytest.fixture(scope="module")
def seeded_run(settings, target_engine):
    """2024-10-02 materialized through Dagster, after its target rows and report were removed."""
    report = report_path(SEEDED_DAY, settings)
    report.unlink(missing_ok=True)
    clear_day(target_engine, SEEDED_DAY)
    try:
        result = materialize_day(settings, SEEDED_DAY)
    finally:
        if not report.exists():  # leave the day as the other tests expect it
            run_etl(SEEDED_DAY, settings)
    return result


@pytest.fixture(scope="module")
def gap_run(settings, source_engine, target_engine):
    """GAP_DAY written into the source with gaps, materialized through Dagster; removed afterwards."""
    with source_engine.begin() as conn:
        copy_frame(conn, "data", gap_day_samples())
    try:
        yield materialize_day(settings, GAP_DAY)
    finally:
        clear_day(source_engine, GAP_DAY)
        clear_day(target_engine, GAP_DAY)


def test_seeded_partition_writes_the_target_and_the_report(seeded_run, settings, source_engine, target_engine):
    assert seeded_run.success
    report = report_path(SEEDED_DAY, settings)
    recorded = latest_succeeded(target_engine, SEEDED_DAY)  # the one record of the run
    assert recorded["key"] == seeded_run.run_id and recorded["report"] == str(report)
    assert_target_matches_source(source_engine, target_engine, SEEDED_DAY)
    # and the potential power and the share of full performance; no good_* statistics on a clean day
    every_bucket = len(TURBINES) * 144 * len(day_signal_names())
    assert len(target_day(target_engine, SEEDED_DAY)) == every_bucket

    [materialization] = seeded_run.asset_materializations_for_node("daily_statistics")
    assert materialization.partition == f"{SEEDED_DAY.isoformat()}|{DEFAULT_FARM}"
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["notebook"] == str(report) and metadata["etl_run"] == recorded["id"]
    assert metadata["rows_read"] == recorded["rows_read"] == len(TURBINES) * 1440
    assert metadata["buckets"] == len(TURBINES) * 144
    assert metadata["rows_written"] == recorded["rows_written"] == every_bucket
    assert metadata["turbines"] == recorded["turbines"] == TURBINES
    for turbine, shares in recorded["quality"].items():
        for variable, share in shares.items():
            assert metadata[f"quality/{turbine}/{variable}"] == pytest.approx(share)


def test_the_report_is_linked_as_its_html_export(seeded_run, settings):
    [materialization] = seeded_run.asset_materializations_for_node("daily_statistics")
    link = materialization.metadata["report"]
    assert type(link).__name__ == "UrlMetadataValue"
    url = urlsplit(link.value)
    assert url.scheme == "file"
    html = Path(url2pathname(url.path))
    assert html == report_path(SEEDED_DAY, settings).with_suffix(".html").resolve()
    page = html.read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and SEEDED_DAY.isoformat() in page
    assert "import etl_lib" not in page and "from etl_lib" not in page  # exported without the code cells
    assert type(materialization.metadata["notebook"]).__name__ == "NotebookMetadataValue"  # the UI's "View Notebook"


def test_seeded_partition_passes_both_checks(seeded_run):
    evaluations = {e.check_name: e for e in seeded_run.get_asset_check_evaluations()}
    assert set(evaluations) == {"all_buckets_written", "quality_above_threshold"}
    buckets = evaluations["all_buckets_written"]
    assert buckets.passed, buckets.description
    assert buckets.partition == f"{SEEDED_DAY.isoformat()}|{DEFAULT_FARM}"
    assert buckets.metadata["buckets"].value == {f"{t}/{name}": 144 for t in TURBINES for name in etl_signal_names()}
    assert evaluations["quality_above_threshold"].passed, evaluations["quality_above_threshold"].description


def test_daily_kpis_report_the_days_figures_and_check_the_sum_rule_and_the_contract(settings, target_engine):
    """2024-10-04 (WT02's 300 minutes of scheduled maintenance), as the stack's ETL wrote it: daily_kpis
    reports the farm's figures as `etl kpis --farm` computes them, the sum rule holds, and the contract
    holds in the manufacturer's view (maintenance is left out) but warns in the user's, naming WT02."""
    day = dt.date(2024, 10, 4)
    partitions = source_partitions(settings)
    statistics = build_daily_statistics(partitions.definition, partitions.note)
    daily = build_daily_kpis(statistics, partitions.definition)
    parts = [statistics, daily, *build_kpi_checks(daily, partitions.definition)]
    farm = period_kpis(read_kpis(day, day, engine=target_engine), "day", total=True).iloc[0]

    def kpis_for(view: str):
        return materialize(
            parts,
            selection=[daily],
            partition_key=partition_key(DEFAULT_FARM, day),
            resources=resources_for(settings),
            instance=DagsterInstance.ephemeral(),
            run_config={"ops": {"daily_kpis_availability_above_contract": {"config": {"view": view}}}},
        )

    result = kpis_for("manufacturer")
    [materialization] = result.asset_materializations_for_node("daily_kpis")
    assert materialization.metadata["farm/energy_kwh"].value == round(float(farm["energy_kwh"]), 3)
    assert materialization.metadata["days"].value == 1
    turbines = materialization.metadata["turbines"].value
    assert set(turbines) == set(TURBINES) and turbines["WT02"]["time_availability_manufacturer"] == 1.0
    assert turbines["WT02"]["time_availability"] == pytest.approx(1 - 300 / 1440, abs=1e-6)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["kpi_sum_rule"].passed and checks["kpi_sum_rule"].severity == AssetCheckSeverity.ERROR
    assert checks["availability_above_contract"].passed, checks["availability_above_contract"].description
    warned = {e.check_name: e for e in kpis_for("user").get_asset_check_evaluations()}["availability_above_contract"]
    assert not warned.passed and warned.severity == AssetCheckSeverity.WARN
    assert "below the contract's 97.0% (user's view): WT02 79.2%" in warned.description


def test_gap_partition_matches_the_source_and_says_which_buckets_are_missing_and_why(
    gap_run, settings, source_engine, target_engine
):
    assert gap_run.success
    assert report_path(GAP_DAY, settings).exists()
    assert_target_matches_source(source_engine, target_engine, GAP_DAY)

    evaluation = {e.check_name: e for e in gap_run.get_asset_check_evaluations()}["all_buckets_written"]
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN  # every missing bucket is explained by the source
    buckets = evaluation.metadata["buckets"].value
    missing = evaluation.metadata["missing_by_reason"].value
    for variable in ETL_VARIABLES:
        for statistic in STATISTICS:
            name = f"{variable}_{statistic}"
            lone = variable == "power" and statistic == "std"
            assert buckets[f"{GAP_TURBINE}/{name}"] == 144 - 3, name
            assert buckets[f"{LONE_TURBINE}/{name}"] == 144 - lone, name
            assert buckets[f"WT01/{name}"] == 144
            assert missing[NO_SAMPLES][f"{GAP_TURBINE}/{name}"] == 3
    assert missing[ONE_SAMPLE] == {f"{LONE_TURBINE}/power_std": 1}
    assert set(missing) == {NO_SAMPLES, ONE_SAMPLE}
    assert (
        f"{GAP_TURBINE}/power_std 141" in evaluation.description
        and f"{LONE_TURBINE}/power_std 143" in evaluation.description
    )
    assert f"{GAP_DAY.isoformat()}T02:00Z" in evaluation.description
    assert f"{GAP_DAY.isoformat()}T05:00Z" in evaluation.description


def test_quality_check_warns_below_its_configured_threshold(gap_run, settings, target_engine):
    quality = latest_succeeded(target_engine, GAP_DAY)["quality"]
    threshold = 0.999
    below = {f"{t}/{v}" for t, shares in quality.items() for v, share in shares.items() if share < threshold}
    assert {f"{GAP_TURBINE}/wind_speed", f"{GAP_TURBINE}/power"} <= below  # half an hour of its day has no samples

    strict = run_checks(GAP_DAY, min_share=threshold)["quality_above_threshold"]
    assert not strict.passed
    assert strict.severity == AssetCheckSeverity.WARN
    assert strict.partition == f"{GAP_DAY.isoformat()}|{DEFAULT_FARM}"
    for variable in below:
        assert variable in strict.description
    assert strict.metadata["min_share"].value == threshold

    lowest = min(share for shares in quality.values() for share in shares.values())
    lenient = run_checks(GAP_DAY, min_share=lowest)["quality_above_threshold"]
    assert lenient.passed, lenient.description


def test_checks_of_a_day_never_materialized_say_what_to_do(settings):
    day = dt.date(2024, 11, 27)  # a day with neither source data nor results
    evaluations = run_checks(day)
    buckets = evaluations["all_buckets_written"]
    assert not buckets.passed
    assert "nothing is written in the target" in buckets.description
    assert "the source has no samples for it either" in buckets.description
    assert buckets.severity == AssetCheckSeverity.WARN
    quality = evaluations["quality_above_threshold"]
    assert not quality.passed and quality.severity == AssetCheckSeverity.WARN
    assert f"no succeeded run of {day.isoformat()}" in quality.description and "materialize" in quality.description


def test_defs_take_their_resources_from_the_settings(settings):
    resources = load_defs().resources
    assert resources["source_api"].base_url == settings.api_base_url
    assert resources["source_api"].retries == settings.http_retries
    assert resources["source_api"].timeout == settings.http_timeout
    assert resources["target_database"].url == settings.target_url


# --- partitions follow the source ------------------------------------------------------------------


def test_partitions_are_the_utc_days_of_the_source_coverage(settings, api):
    coverage = api.get("/coverage").json()
    first, last = (pd.Timestamp(coverage[key]).date() for key in ("first", "last"))
    farm_days = load_defs().get_assets_def("daily_statistics").partitions_def
    assert farm_days.get_partitions_def_for_dimension("farm").get_partition_keys() == [DEFAULT_FARM]
    partitions = farm_days.get_partitions_def_for_dimension("day")
    assert partitions.timezone == "UTC"
    keys = partitions.get_partition_keys()
    today = dt.datetime.now(dt.UTC).date()
    assert keys[0] == first.isoformat()  # none before the first sample
    assert keys[-1] in {today.isoformat(), dt.datetime.now(dt.UTC).date().isoformat()}  # to today (midnight may pass)
    assert last.isoformat() in keys  # the source's last day among them
    assert keys[: (last - first).days + 1] == [d.date().isoformat() for d in pd.date_range(first, last, freq="D")]


def test_loading_without_the_api_keeps_the_default_period_and_says_why(settings):
    down = settings.model_copy(update={"api_url": f"http://127.0.0.1:{free_port()}"})
    started = time.perf_counter()
    defs = build_defs(down)
    assert time.perf_counter() - started < 15
    asset = defs.get_assets_def("daily_statistics")
    keys = asset.partitions_def.get_partitions_def_for_dimension("day").get_partition_keys()
    assert keys[0] == DEFAULT_PERIOD_START.isoformat() and len(keys) == DEFAULT_PERIOD_DAYS
    assert asset.partitions_def.get_partitions_def_for_dimension("farm").get_partition_keys() == [DEFAULT_FARM]
    description = asset.descriptions_by_key[asset.key]
    assert "could not be read when these definitions loaded" in description
    assert "etl stack up" in description and "reload the definitions" in description


def test_dagster_loads_the_definitions_with_the_api_down(settings, tmp_path):
    """The way the UI loads them: a fresh process, and nothing listening at ETL_API_URL."""
    dagster = Path(sys.executable).with_name("dagster")
    env = {
        **os.environ,
        "ETL_API_URL": f"http://127.0.0.1:{free_port()}",
        "DAGSTER_HOME": str(tmp_path),
        "PYTHONWARNINGS": "ignore::FutureWarning:click.core",
    }
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "etl_lib.orchestration"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "could not be read when these definitions loaded" in done.stdout + done.stderr  # logged as a warning


def test_a_partition_without_source_data_is_skipped_with_the_reason(gap_run, settings, target_engine):
    day = GAP_DAY - dt.timedelta(days=1)  # a partition now (the source reaches GAP_DAY), but no samples
    instance = DagsterInstance.ephemeral()
    result = materialize_day(settings, day, instance)
    assert result.success  # not a failure
    assert result.asset_materializations_for_node("daily_statistics") == []
    [observation] = [
        e.asset_observation_data.asset_observation
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    reason = observation.metadata["skipped"].value
    assert f"The source has no samples for {day.isoformat()}" in reason
    assert "What to do: Pick a date inside the source's coverage" in reason  # the project's advice, kept
    assert f"to {GAP_DAY.isoformat()}" in reason  # and what the source covers
    assert {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"} == {
        "daily_statistics_all_buckets_written",
        "daily_statistics_quality_above_threshold",
    }
    assert instance.get_run_by_id(result.run_id).tags[SKIPPED_TAG] == f"no source data for {day.isoformat()}"
    assert not report_path(day, settings).exists()  # nothing was run, nothing written
    assert target_day(target_engine, day).empty


def test_a_failed_partition_keeps_the_projects_advice(settings):
    down = settings.model_copy(update={"api_url": f"http://127.0.0.1:{free_port()}", "http_retries": 0})
    failure = failed_day(settings, resources_from=down)
    assert "could not be reached" in failure.description
    assert "What to do: Check which part is down with `etl doctor`" in failure.description
    assert "etl doctor" in failure.metadata["what to do"].value


def test_the_checks_job_without_a_day_says_how_to_name_one(settings):
    result = (
        load_defs()
        .resolve_job_def("daily_checks_job")
        .execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)
    )
    assert not result.success
    failures = [event for event in result.all_events if event.is_step_failure]
    assert len(failures) == 2
    for failure in failures:
        message = failure.step_failure_data.user_failure_data.description
        assert "names none" in message and '{"dagster/partition": "2024-10-02|WF01"}' in message
        assert "DagsterInvariantViolationError" not in failure.step_failure_data.error.message


# --- the schedule ------------------------------------------------------------------------------------


def evaluate_schedule(settings, tick: dt.datetime, partitions: SourcePartitions | None = None):
    defs = build_defs(settings, partitions)
    schedule = defs.resolve_schedule_def("daily_etl_schedule")
    with build_schedule_context(
        scheduled_execution_time=tick,
        repository_def=defs.get_repository_def(),
        resources={"source_api": SourceApi.from_settings(settings)},
    ) as context:
        return schedule, defs, schedule.evaluate_tick(context)


def test_schedule_runs_the_partitioned_job_for_the_day_that_just_ended(settings):
    tick = dt.datetime(2024, 10, 5, 0, 15, tzinfo=dt.UTC)
    schedule, defs, result = evaluate_schedule(settings, tick)
    job = defs.resolve_job_def(schedule.job_name)
    assert job.name == "daily_etl_job"
    assert job.partitions_def == defs.get_assets_def("daily_statistics").partitions_def
    keys = {key.to_user_string() for key in job.asset_layer.asset_graph.get_all_asset_keys()}
    assert keys == {"source_days", "daily_statistics", "daily_kpis"}  # source_days: observed, never run
    assert schedule.cron_schedule == "15 0 * * *" and schedule.execution_timezone == "UTC"
    assert [request.partition_key for request in result.run_requests] == [f"2024-10-04|{DEFAULT_FARM}"]


def test_schedule_skips_a_day_without_source_data_with_the_reason(settings):
    tick = dt.datetime(2025, 1, 2, 0, 15, tzinfo=dt.UTC)  # the default data ended on 2024-10-10
    _, _, result = evaluate_schedule(settings, tick)
    assert not result.run_requests
    assert "The source has no samples for 2025-01-01" in result.skip_message
    assert "What to do: Pick a date inside the source's coverage" in result.skip_message


def test_schedule_skips_a_day_the_loaded_partitions_lack_and_says_to_reload(settings):
    """Partitions of fewer days than the source has (loaded from an older source, with an end): a day the source
    has beyond them is skipped, saying to reload."""
    start = DEFAULT_PERIOD_START
    older = SourcePartitions(
        DailyPartitionsDefinition(
            start_date=start.isoformat(), end_date=(start + dt.timedelta(days=3)).isoformat(), timezone="UTC"
        ),
        "loaded while the source had three days",
    )
    tick = dt.datetime.combine(start + dt.timedelta(days=6), dt.time(0, 15), dt.UTC)
    _, _, result = evaluate_schedule(settings, tick, older)
    assert not result.run_requests
    assert "is not one of the partitions loaded" in result.skip_message and "reload" in result.skip_message


def test_a_target_password_reaches_the_notebook_by_environment_not_by_parameter(settings):
    with_password = settings.model_copy(
        update={"target_database_url": "postgresql+psycopg2://etl:s3cret@db.example:5432/target"}
    )
    parameters, env = notebook_inputs(with_password)
    assert "target_database_url" not in parameters and "s3cret" not in str(parameters)
    assert env["TARGET_DATABASE_URL"] == with_password.target_url
    assert parameters["api_url"] == settings.api_base_url

    parameters, env = notebook_inputs(settings)
    assert parameters == {"api_url": settings.api_base_url, "target_database_url": settings.target_url}
    assert env["ETL_HTTP_RETRIES"] == str(settings.http_retries)


def test_a_run_that_cannot_start_the_notebook_fails_with_the_reason_and_the_fix(settings, monkeypatch, tmp_path):
    missing = tmp_path / "no-such-notebook.ipynb"
    monkeypatch.setenv("ETL_NOTEBOOK", str(missing))
    message = failed_day(settings).description
    assert str(missing) in message and "does not exist" in message and "ETL_NOTEBOOK" in message


def test_a_failed_notebook_links_its_report_and_keeps_the_advice(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("ETL_RUNS_DIR", str(tmp_path))  # the failed report stays out of the shared runs/
    unreachable = settings.model_copy(
        update={"target_database_url": f"postgresql+psycopg2://etl@127.0.0.1:{free_port()}/target"}
    )
    failure = failed_day(settings, resources_from=unreachable)
    [report] = tmp_path.glob(f"{SEEDED_DAY.isoformat()}.*.ipynb")  # a failed run's own report, keyed by its run
    assert not (tmp_path / f"{SEEDED_DAY.isoformat()}.ipynb").exists()  # never in place of the farm's
    assert failure.description.startswith("The ETL notebook failed with DatabaseError: The target database failed")
    assert "What to do: Check which part is down with `etl doctor`" in failure.description
    assert f"The executed notebook with the error is {report}." in failure.description
    assert failure.metadata["what to do"].value.endswith(f"The executed notebook with the error is {report}.")
    html = Path(url2pathname(urlsplit(failure.metadata["report"].value).path))
    assert html == report.with_suffix(".html").resolve() and html.exists()
