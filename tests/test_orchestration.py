"""Dagster: the partitioned asset, its checks, the job and the schedule, against the test stack.

Two partitions are materialized through Dagster (each runs the notebook with papermill):
a seeded day, and a day outside the seeded period that this module writes into the source
with gaps (and removes again), so the bucket check has something to explain.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dagster import AssetCheckSeverity, DagsterInstance, build_schedule_context, materialize
from sqlalchemy import text
from test_etl_end_to_end import statistics_in_sql, target_day

from etl_lib import generator, run_etl
from etl_lib.audit import read_recorded
from etl_lib.dates import day_bounds
from etl_lib.db import copy_frame
from etl_lib.notebook_runner import report_path
from etl_lib.orchestration import (
    SourceApi,
    TargetDatabase,
    all_buckets_written,
    daily_partitions,
    daily_statistics,
    defs,
    notebook_inputs,
    quality_above_threshold,
)
from etl_lib.orchestration_checks import NO_SAMPLES, ONE_SAMPLE, UNEXPLAINED, bucket_completeness, quality_verdict
from etl_lib.target_schema import ETL_VARIABLES, STATISTICS, etl_signal_names

SEEDED_DAY = dt.date(2024, 10, 2)
GAP_DAY = dt.date(2024, 11, 20)  # outside the seeded period; this module adds and removes it
GAP = ("02:00", "02:29")  # no samples at all: 3 buckets
LONE_POWER_BUCKET = "05:00"  # power has one sample there: its std is undefined
QUALITY = "daily_statistics_quality_above_threshold"


def delete_day(engine, run_date: dt.date) -> None:
    start, end = day_bounds(run_date)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM data WHERE timestamp >= :s AND timestamp < :e"), {"s": start, "e": end})


def gap_day_samples() -> pd.DataFrame:
    frame = generator.generate(start=GAP_DAY, days=1).set_index("timestamp")
    day = GAP_DAY.isoformat()
    frame = frame.drop(frame.loc[f"{day} {GAP[0]}":f"{day} {GAP[1]}"].index)
    lone = pd.Timestamp(f"{day} {LONE_POWER_BUCKET}", tz="UTC")
    frame.loc[lone + pd.Timedelta(minutes=1) : lone + pd.Timedelta(minutes=9), "power"] = np.nan
    return frame.reset_index()


def resources_for(settings) -> dict:
    return {"source_api": SourceApi.from_settings(settings), "target_database": TargetDatabase.from_settings(settings)}


def materialize_day(settings, run_date: dt.date):
    return materialize(
        [daily_statistics, all_buckets_written, quality_above_threshold],
        partition_key=run_date.isoformat(),
        resources=resources_for(settings),
        instance=DagsterInstance.ephemeral(),
    )


def run_checks(run_date: dt.date, min_share: float | None = None) -> dict:
    """Only the day's checks, through the job the UI and the CLI use; {check name: evaluation}."""
    run_config = {"ops": {QUALITY: {"config": {"min_share": min_share}}}} if min_share is not None else None
    # A check-only selection has no asset to take the partition from, so the partition goes in
    # as the run tag Dagster itself sets when it launches a partitioned run.
    result = defs.resolve_job_def("daily_checks_job").execute_in_process(
        run_config=run_config, tags={"dagster/partition": run_date.isoformat()}, instance=DagsterInstance.ephemeral()
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
    delete_day(target_engine, SEEDED_DAY)
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
        delete_day(source_engine, GAP_DAY)
        delete_day(target_engine, GAP_DAY)


def test_seeded_partition_writes_the_target_and_the_report(seeded_run, settings, source_engine, target_engine):
    assert seeded_run.success
    report = report_path(SEEDED_DAY, settings)
    recorded = read_recorded(report)
    assert recorded["status"] == "succeeded" and recorded["date"] == SEEDED_DAY.isoformat()
    assert_target_matches_source(source_engine, target_engine, SEEDED_DAY)
    assert len(target_day(target_engine, SEEDED_DAY)) == 144 * len(etl_signal_names())

    [materialization] = seeded_run.asset_materializations_for_node("daily_statistics")
    assert materialization.partition == SEEDED_DAY.isoformat()
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["notebook"] == str(report)
    assert metadata["rows_read"] == recorded["rows_read"] == 1440
    assert metadata["buckets"] == 144
    assert metadata["rows_written"] == recorded["rows_written"] == 144 * len(etl_signal_names())
    for variable, share in recorded.get("quality", {}).items():
        assert metadata[f"quality/{variable}"] == pytest.approx(share)


def test_seeded_partition_passes_both_checks(seeded_run):
    evaluations = {e.check_name: e for e in seeded_run.get_asset_check_evaluations()}
    assert set(evaluations) == {"all_buckets_written", "quality_above_threshold"}
    buckets = evaluations["all_buckets_written"]
    assert buckets.passed, buckets.description
    assert buckets.partition == SEEDED_DAY.isoformat()
    assert buckets.metadata["buckets"].value == {name: 144 for name in etl_signal_names()}
    assert evaluations["quality_above_threshold"].passed, evaluations["quality_above_threshold"].description


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
            assert buckets[name] == 144 - 3 - lone, name
            assert missing[NO_SAMPLES][name] == 3
    assert missing[ONE_SAMPLE] == {"power_std": 1}
    assert "power_std 140" in evaluation.description
    assert f"{GAP_DAY.isoformat()}T02:00Z" in evaluation.description
    assert f"{GAP_DAY.isoformat()}T05:00Z" in evaluation.description


def test_quality_check_warns_below_its_configured_threshold(gap_run, settings):
    recorded = read_recorded(report_path(GAP_DAY, settings))
    if "quality" not in recorded:  # a notebook from before the data-quality step: unknown is a warning
        evaluation = run_checks(GAP_DAY)["quality_above_threshold"]
        assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
        assert "records no quality values" in evaluation.description
        return
    quality = recorded["quality"]
    threshold = 0.999
    below = {variable for variable, share in quality.items() if share < threshold}
    assert {"wind_speed", "power"} <= below  # half an hour of the day has no samples

    strict = run_checks(GAP_DAY, min_share=threshold)["quality_above_threshold"]
    assert not strict.passed
    assert strict.severity == AssetCheckSeverity.WARN
    assert strict.partition == GAP_DAY.isoformat()
    for variable in below:
        assert variable in strict.description
    assert strict.metadata["min_share"].value == threshold

    lenient = run_checks(GAP_DAY, min_share=min(quality.values()))["quality_above_threshold"]
    assert lenient.passed, lenient.description


def test_checks_of_a_day_never_materialized_say_what_to_do(settings):
    day = dt.date(2024, 11, 27)  # a partition with neither source data nor results
    evaluations = run_checks(day)
    buckets = evaluations["all_buckets_written"]
    assert not buckets.passed
    assert "nothing is written in the target" in buckets.description
    assert "the source has no samples for it either" in buckets.description
    assert buckets.severity == AssetCheckSeverity.WARN
    quality = evaluations["quality_above_threshold"]
    assert not quality.passed and quality.severity == AssetCheckSeverity.WARN
    assert str(report_path(day, settings)) in quality.description


def test_quality_verdict_without_recorded_quality_is_a_failure_not_a_pass():
    verdict = quality_verdict({"status": "succeeded"}, 0.9, "runs/x.ipynb")
    assert not verdict.passed
    assert "records no quality values" in verdict.description


def test_defs_take_their_resources_from_the_settings(settings):
    resources = defs.resources
    assert resources["source_api"].base_url == settings.api_base_url
    assert resources["source_api"].retries == settings.http_retries
    assert resources["source_api"].timeout == settings.http_timeout
    assert resources["target_database"].url == settings.target_url


def test_schedule_runs_the_partitioned_job_for_the_day_that_just_ended():
    schedule = defs.resolve_schedule_def("daily_etl_schedule")
    job = defs.resolve_job_def(schedule.job_name)
    assert job.name == "daily_etl_job"
    assert job.partitions_def == daily_partitions
    assert {key.to_user_string() for key in job.asset_layer.asset_graph.get_all_asset_keys()} == {"daily_statistics"}
    assert schedule.cron_schedule == "15 0 * * *" and schedule.execution_timezone == "UTC"

    tick = dt.datetime(2024, 10, 5, 0, 15, tzinfo=dt.timezone.utc)
    result = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=tick))
    assert [request.partition_key for request in result.run_requests] == ["2024-10-04"]


def test_partitions_are_utc_days_from_the_first_day_of_source_data():
    assert daily_partitions.timezone == "UTC"
    assert daily_partitions.get_first_partition_key() == generator.DEFAULT_START.isoformat()


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
    result = materialize(
        [daily_statistics],
        partition_key=SEEDED_DAY.isoformat(),
        resources=resources_for(settings),
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert str(missing) in message and "does not exist" in message and "ETL_NOTEBOOK" in message


def test_buckets_missing_although_the_source_has_samples_are_an_error():
    day = dt.date(2024, 10, 2)
    stamps = pd.date_range(pd.Timestamp(day, tz="UTC"), periods=1440, freq="1min")
    samples = pd.DataFrame({v: 1.0 for v in ETL_VARIABLES}, index=pd.DatetimeIndex(stamps, name="timestamp"))
    written = pd.DataFrame({"timestamp": pd.Series(dtype="datetime64[ns, UTC]"), "signal": [], "value": []})
    result = bucket_completeness(day, written, samples)
    assert not result.passed
    assert set(result.missing) == {UNEXPLAINED}
    assert not result.explained_by_source
