"""Backfill through the library and the ``etl backfill`` command, against the real stack."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from etl_lib.ops.backfill import run_backfill
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
def test_a_failing_day_does_not_stop_the_others(settings, target_engine, workers):
    good = [dt.date(2024, 10, 6), dt.date(2024, 10, 7), dt.date(2024, 10, 8)]
    missing = dt.date(2024, 12, 1)  # the source has no samples that day
    clear_target(target_engine, good)
    assert day_counts(target_engine, good) == {}

    result = run_backfill([good[0], missing, *good[1:]], settings, workers=workers, progress=False)

    assert [o.run_date for o in result.outcomes] == sorted([*good, missing])
    assert [f.run_date for f in result.failures] == [missing]
    assert "no samples for 2024-12-01" in result.failures[0].error
    assert not result.ok
    written = {o.run_date: o.rows_written for o in result.outcomes if o.ok}
    assert set(written) == set(good) and min(written.values()) >= 144
    assert day_counts(target_engine, good) == written
    summary = result.summary()
    assert (summary["days"], summary["succeeded"], summary["failed"]) == (4, 3, 1)
    assert summary["rows_written"] == sum(written.values())
    assert summary["failures"] == [{"date": "2024-12-01", "error": result.failures[0].error, "data_written": False}]
    assert summary["data_written"] == 3


def test_notebooks_mode_writes_a_report_per_day_and_reports_the_failed_one(settings):
    day, missing = dt.date(2024, 10, 2), dt.date(2024, 12, 2)
    result = run_backfill([day, missing], settings, workers=2, notebooks=True, progress=False)
    ok = [o for o in result.outcomes if o.ok]
    assert [o.run_date for o in ok] == [day]
    assert ok[0].report == settings.runs_dir / "2024-10-02.ipynb" and ok[0].report.exists()
    assert [f.run_date for f in result.failures] == [missing]
    assert "notebook failed" in result.failures[0].error and "2024-12-02" in result.failures[0].error


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


def test_cli_lists_failures_and_exits_non_zero():
    done = run_cli("backfill", "2024-10-10", "2024-10-12")
    assert done.returncode == 1
    assert "1 of 3 day(s) done, 2 failed" in done.stdout
    assert "FAILED 2024-10-11: The source has no samples for 2024-10-11" in done.stderr
    assert "FAILED 2024-10-12" in done.stderr
