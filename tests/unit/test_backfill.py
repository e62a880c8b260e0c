"""Backfill ranges and the ``etl backfill`` command's refusals, before any work. (Backfills against
the real stack: tests/integration/test_backfill.py.)"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from etl_lib.core.errors import InvalidDateError
from etl_lib.ops.backfill import date_range

ETL = str(Path(sys.executable).with_name("etl"))


def test_date_range_includes_both_ends_and_refuses_a_reversed_range():
    assert date_range("2024-10-01", "2024-10-03") == [dt.date(2024, 10, 1), dt.date(2024, 10, 2), dt.date(2024, 10, 3)]
    assert date_range("2024-10-01", "2024-10-01") == [dt.date(2024, 10, 1)]
    with pytest.raises(InvalidDateError, match="START is after END"):
        date_range("2024-10-05", "2024-10-01")
    with pytest.raises(InvalidDateError, match="not a date in the form"):
        date_range("2024-10-01", "tomorrow")


def test_a_range_longer_than_ten_years_needs_force():
    with pytest.raises(InvalidDateError, match="is 3,661 days, more than 3,660") as refused:
        date_range("2014-09-23", "2024-09-30")
    assert "--force" in refused.value.fix
    assert len(date_range("2014-09-24", "2024-09-30")) == 3660
    assert len(date_range("2014-09-23", "2024-09-30", force=True)) == 3661


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ETL, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2024-10-05", "2024-10-01"), "START is after END"),
        (("2024-10-01", "2024-13-01"), "does not exist on the calendar"),
        (("2024-10-01", "2024-10-02", "--workers", "0"), "--workers"),
    ],
)
def test_cli_refuses_bad_arguments_before_any_work(args, message):
    done = run_cli("backfill", *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_skipped_days_are_counted_apart_and_named_in_stretches():
    from etl_lib.ops.backfill import BackfillResult, DayOutcome

    reason = "the source has no samples of it; the source covers 2024-10-01 to 2024-10-10 (57,565 samples)"
    days = [dt.date(2024, 10, 9) + dt.timedelta(days=i) for i in range(6)]
    outcomes = [
        DayOutcome(days[0], 0.1, rows_written=10, data_written=True),
        DayOutcome(days[1], 0.1, skipped=reason),
        DayOutcome(days[2], 0.1, skipped=reason),
        DayOutcome(days[3], 0.1, error="it failed", data_written=False),
        DayOutcome(days[4], 0.1, skipped=reason),
        DayOutcome(days[5], 0.1, rows_written=10, data_written=True),
    ]
    result = BackfillResult(outcomes, 1.0, 1, False)
    assert not result.ok and [f.run_date for f in result.failures] == [days[3]]
    assert "2 of 6 day(s) done, 3 skipped (no source data), 1 failed" in result.summary_line("a", "b")
    assert result.skipped_lines() == [
        f"SKIPPED 2024-10-10 to 2024-10-11 (2 days): {reason}.",
        f"SKIPPED 2024-10-13: {reason}.",
    ]
    assert BackfillResult([outcomes[1], outcomes[5]], 1.0, 1, False).ok  # skipped is no failure
