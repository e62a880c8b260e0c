"""Backfill through the library and the ``etl backfill`` command, against the real stack."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import matplotlib.dates as mdates
import pytest
from sqlalchemy import text

from etl_lib.ops.backfill import run_backfill
from etl_lib.reports import runs_summary as rs
from etl_lib.storage.run_record import read_runs
from harness.process_faults import etl, refusing_inserts
from tests.unit.test_backfill import run_cli

ETL = str(Path(sys.executable).with_name("etl"))


def day_counts(target_engine, days: list[dt.date]) -> dict[dt.date, int]:
    with target_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT (timestamp AT TIME ZONE 'UTC')::date AS day, count(*) FROM data "
                "WHERE timestamp >= :s AND timestamp < :e GROUP BY 1"
            ),
            {"s": min(days), "e": max(days) + dt.timedelta(days=1)},
        )
        return {day: count for day, count in rows}  # noqa: C416 (a Result has keys(): dict() would take it for a mapping)


def clear_target(target_engine, days: list[dt.date]) -> None:
    with target_engine.begin() as conn:
        for day in days:
            conn.execute(
                text("DELETE FROM data WHERE timestamp >= :s AND timestamp < :e"),
                {"s": day, "e": day + dt.timedelta(days=1)},
            )


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_day_does_not_stop_the_others(settings, target_engine, workers, tmp_path):
    good = [dt.date(2024, 10, 6), dt.date(2024, 10, 7), dt.date(2024, 10, 8)]
    failing = dt.date(2024, 10, 9)  # the target refuses its rows
    clear_target(target_engine, [*good, failing])
    assert day_counts(target_engine, good) == {}

    with refusing_rows_of(target_engine, failing):
        result = run_backfill([good[0], failing, *good[1:]], settings, workers=workers, progress=False)

    assert [o.run_date for o in result.outcomes] == sorted([*good, failing])
    assert [f.run_date for f in result.failures] == [failing]
    assert "refuses the rows of 2024-10-09" in result.failures[0].error
    assert not result.ok
    written = {o.run_date: o.rows_written for o in result.outcomes if o.ok}
    assert set(written) == set(good) and min(written.values()) >= 144
    assert day_counts(target_engine, good) == written
    summary = result.summary()
    assert (summary["days"], summary["succeeded"], summary["skipped"], summary["failed"]) == (4, 3, 0, 1)
    assert summary["rows_written"] == sum(written.values())
    assert summary["failures"] == [{"date": "2024-10-09", "error": result.failures[0].error, "data_written": False}]
    assert summary["data_written"] == 3


def refusing_rows_of(target_engine, day: dt.date):
    """The target refuses the rows of ``day`` (a trigger), as a real write failure of one day."""
    end = day + dt.timedelta(days=1)
    when = f"NEW.timestamp >= '{day}' AND NEW.timestamp < '{end}'"
    return refusing_inserts(target_engine, "data", f"the test refuses the rows of {day}", when)


@pytest.mark.parametrize("workers", [1, 2])
def test_days_without_source_data_are_skipped_not_failed(settings, target_engine, workers):
    good, missing = dt.date(2024, 10, 6), dt.date(2024, 12, 1)  # the source has no samples that day
    records = len(read_runs(target_engine, missing))
    result = run_backfill([good, missing], settings, workers=workers, progress=False)
    assert result.ok and not result.failures
    [skip] = result.skips
    assert skip.run_date == missing and skip.skipped.startswith("the source has no samples of it; the source covers")
    summary = result.summary()
    assert (summary["days"], summary["succeeded"], summary["skipped"], summary["failed"]) == (2, 1, 1, 0)
    assert summary["skips"] == [{"date": "2024-12-01", "reason": skip.skipped}]
    assert len(read_runs(target_engine, missing)) == records  # not a run: no record


def test_notebooks_mode_writes_a_report_per_day_and_skips_a_day_without_data(settings, tmp_path):
    day, missing = dt.date(2024, 10, 2), dt.date(2024, 12, 2)
    runs = tmp_path / "runs"
    result = run_backfill(
        [day, missing], settings.model_copy(update={"runs_dir": runs}), workers=2, notebooks=True, progress=False
    )
    assert result.ok
    [ok] = [o for o in result.outcomes if not o.skipped]
    assert ok.run_date == day and ok.report == runs / "2024-10-02.ipynb" and ok.report.exists()
    assert [o.run_date for o in result.skips] == [missing]
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == ["2024-10-02.ipynb"]


def test_cli_exits_zero_when_every_day_succeeds(target_engine):
    days = [dt.date(2024, 10, 9), dt.date(2024, 10, 10)]
    clear_target(target_engine, days)
    done = run_cli("backfill", "2024-10-09", "2024-10-10", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["days"], summary["succeeded"], summary["failed"]) == (2, 2, 0)
    counts = day_counts(target_engine, days)
    assert set(counts) == set(days) and counts[days[0]] == counts[days[1]] >= 144
    assert summary["rows_written"] == sum(counts.values())


def test_days_outside_the_data_are_skipped_the_backfill_exits_zero_and_the_summary_spans_the_reports(
    settings, api, tmp_path
):
    """Days after the data used to fail (exit 1), each with a failed report that stretched the runs
    summary's date axis."""
    runs = tmp_path / "runs"
    env = {"ETL_RUNS_DIR": str(runs)}
    coverage = api.get("/coverage").json()
    covers = f"the source covers {coverage['first'][:10]} to {coverage['last'][:10]}"
    done = etl("backfill", "2024-10-09", "2024-10-14", "--notebooks", env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "2 of 6 day(s) done, 4 skipped (no source data), 0 failed" in done.stdout
    assert f"SKIPPED 2024-10-11 to 2024-10-14 (4 days): the source has no samples of it; {covers}" in done.stderr
    assert "FAILED" not in done.stderr
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == [
        "2024-10-09.ipynb",
        "2024-10-10.ipynb",
    ]

    summarized = etl("report", env=env, timeout=300)
    assert summarized.returncode == 0, summarized.stderr
    summary = rs.summarize_runs(runs, settings)
    assert list(summary.index) == ["2024-10-09", "2024-10-10"]
    span = rs.daily_quality_figure(summary).axes[0].get_xlim()  # the two days, midnight to midnight
    assert span == pytest.approx(mdates.date2num([dt.datetime(2024, 10, 9), dt.datetime(2024, 10, 11)]))


def test_cli_lists_failures_and_exits_non_zero(target_engine):
    with refusing_rows_of(target_engine, dt.date(2024, 10, 10)):
        done = run_cli("backfill", "2024-10-09", "2024-10-11")
    assert done.returncode == 1
    assert "1 of 3 day(s) done, 1 skipped (no source data), 1 failed" in done.stdout
    assert "FAILED 2024-10-10: " in done.stderr and "the test refuses the rows of 2024-10-10" in done.stderr, (
        done.stderr
    )
    assert "SKIPPED 2024-10-11: the source has no samples of it" in done.stderr
