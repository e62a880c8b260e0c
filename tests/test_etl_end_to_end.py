"""The ETL through the real API process and both real databases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from etl_lib import run_etl
from etl_lib.errors import InvalidDateError, NoSourceDataError
from etl_lib.target_schema import ETL_VARIABLES, etl_signal_names, statistic_signal_names

SQL_STATISTICS = """
SELECT date_bin('10 minutes', timestamp, TIMESTAMPTZ '2000-01-01 00:00Z') AS timestamp,
       {selects}
FROM data
WHERE timestamp >= :start AND timestamp < :end
GROUP BY 1
"""
SQL_FUNCTIONS = {"mean": "avg", "min": "min", "max": "max", "std": "stddev_samp"}


def statistics_in_sql(source_engine, run_date: dt.date) -> pd.DataFrame:
    """The same statistics computed directly by PostgreSQL on the source, long form."""
    selects = ",\n       ".join(
        f"{fn}({variable}) AS {variable}_{stat}"
        for variable in ("wind_speed", "power")
        for stat, fn in SQL_FUNCTIONS.items()
    )
    start = dt.datetime.combine(run_date, dt.time(0), tzinfo=dt.timezone.utc)
    with source_engine.connect() as conn:
        wide = pd.read_sql(
            text(SQL_STATISTICS.format(selects=selects)),
            conn,
            params={"start": start, "end": start + dt.timedelta(days=1)},
        )
    long = wide.melt(id_vars="timestamp", var_name="signal", value_name="value").dropna()
    return long.set_index(["signal", "timestamp"])["value"].sort_index()


SQL_COUNTS = """
SELECT b.timestamp, {counts}, count(d.timestamp) AS rows
FROM generate_series(:start, :end - interval '10 minutes', interval '10 minutes') AS b(timestamp)
LEFT JOIN data d ON d.timestamp >= b.timestamp AND d.timestamp < b.timestamp + interval '10 minutes'
GROUP BY 1 ORDER BY 1
"""


def counts_in_sql(source_engine, run_date: dt.date) -> pd.DataFrame:
    """Per 10-minute bucket of the day: rows and non-null samples of each variable, by PostgreSQL."""
    counts = ", ".join(f"count(d.{v}) AS {v}_count" for v in ETL_VARIABLES)
    start = dt.datetime.combine(run_date, dt.time(0), tzinfo=dt.timezone.utc)
    with source_engine.connect() as conn:
        return pd.read_sql(
            text(SQL_COUNTS.format(counts=counts)), conn, params={"start": start, "end": start + dt.timedelta(days=1)}
        ).set_index("timestamp")


def target_day(target_engine, run_date: dt.date) -> pd.Series:
    start = dt.datetime.combine(run_date, dt.time(0), tzinfo=dt.timezone.utc)
    with target_engine.connect() as conn:
        frame = pd.read_sql(
            text(
                "SELECT s.name AS signal, d.timestamp, d.value FROM data d JOIN signal s ON s.id = d.signal_id "
                "WHERE d.timestamp >= :start AND d.timestamp < :end"
            ),
            conn,
            params={"start": start, "end": start + dt.timedelta(days=1)},
        )
    return frame.set_index(["signal", "timestamp"])["value"].sort_index()


def count_target_rows(target_engine) -> int:
    with target_engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM data")).scalar_one()


# 2024-10-01 carries the seeded gap (35 minutes), nulls and spikes; 10-05 and 10-10 are complete.
@pytest.mark.parametrize("day", [dt.date(2024, 10, 1), dt.date(2024, 10, 5), dt.date(2024, 10, 10)])
def test_target_equals_sql_statistics_on_source(settings, source_engine, target_engine, day):
    result = run_etl(day, settings)
    expected = statistics_in_sql(source_engine, day)
    counts = counts_in_sql(source_engine, day)
    everything = target_day(target_engine, day)
    actual = everything[everything.index.get_level_values("signal").isin(statistic_signal_names())]

    assert result.rows_read == counts["rows"].sum()
    assert result.buckets == (counts[[f"{v}_count" for v in ETL_VARIABLES]].sum(axis=1) > 0).sum()
    # The statistics, plus _count and _quality of each variable for every one of the 144 buckets.
    assert result.rows_written == len(expected) + 144 * 2 * len(ETL_VARIABLES) == len(everything)
    assert set(everything.index.get_level_values("signal")) == set(etl_signal_names())
    assert actual.index.equals(expected.index)
    np.testing.assert_allclose(actual.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-9)
    for variable in ETL_VARIABLES:
        stored = everything.xs(f"{variable}_count", level="signal")
        assert stored.index.equals(counts.index)
        np.testing.assert_array_equal(stored.to_numpy(), counts[f"{variable}_count"].to_numpy())


def test_the_seeded_gap_is_in_the_source_and_the_target(settings, source_engine, target_engine):
    """2024-10-01 13:20-13:54 is absent from the default seed (README, Data quality)."""
    day = dt.date(2024, 10, 1)
    counts = counts_in_sql(source_engine, day)
    assert counts["rows"].sum() == 1440 - 35
    run_etl(day, settings)
    target = target_day(target_engine, day)
    gap_buckets = pd.date_range("2024-10-01T13:20Z", periods=3, freq="10min")
    for variable in ETL_VARIABLES:
        assert target.xs(f"{variable}_count", level="signal").loc[gap_buckets].tolist() == [0, 0, 0]
        assert target.xs(f"{variable}_count", level="signal").loc["2024-10-01T13:50Z"] == 5
        assert target.xs(f"{variable}_quality", level="signal").loc["2024-10-01T13:50Z"] == 0.5


def test_rerun_replaces_the_day_without_duplicates(settings, source_engine, target_engine):
    first = run_etl("2024-10-03", settings)
    before = count_target_rows(target_engine)
    again = run_etl("2024-10-03", settings)
    assert again.rows_written == first.rows_written == len(statistics_in_sql(source_engine, dt.date(2024, 10, 3))) + 576
    assert count_target_rows(target_engine) == before


def test_date_outside_the_data_fails_clearly_and_writes_nothing(settings, target_engine):
    before = count_target_rows(target_engine)
    with pytest.raises(NoSourceDataError, match="no samples for 2024-12-01"):
        run_etl("2024-12-01", settings)
    assert count_target_rows(target_engine) == before


@pytest.mark.parametrize(
    ("value", "message"),
    [("20241001", "not a date in the form"), ("2024-02-30", "does not exist"), ("2999-01-01", "not over yet")],
)
def test_bad_dates_are_refused_before_any_work(settings, target_engine, value, message):
    before = count_target_rows(target_engine)
    with pytest.raises(InvalidDateError, match=message):
        run_etl(value, settings)
    assert count_target_rows(target_engine) == before
