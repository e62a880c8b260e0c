"""The ETL through the real API process and both real databases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from etl_lib import run_etl
from etl_lib.errors import InvalidDateError, NoSourceDataError
from etl_lib.target_schema import etl_signal_names

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


@pytest.mark.parametrize("day", [dt.date(2024, 10, 1), dt.date(2024, 10, 5), dt.date(2024, 10, 10)])
def test_target_equals_sql_statistics_on_source(settings, source_engine, target_engine, day):
    result = run_etl(day, settings)
    expected = statistics_in_sql(source_engine, day)
    actual = target_day(target_engine, day)

    assert result.rows_read == 1440
    assert result.buckets == 144
    assert result.rows_written == 144 * 8 == len(actual)
    assert set(actual.index.get_level_values("signal")) == set(etl_signal_names())
    assert actual.index.equals(expected.index)
    np.testing.assert_allclose(actual.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-9)


def test_rerun_replaces_the_day_without_duplicates(settings, target_engine):
    run_etl("2024-10-03", settings)
    before = count_target_rows(target_engine)
    again = run_etl("2024-10-03", settings)
    assert again.rows_written == 1152
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
