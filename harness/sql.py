"""The ETL's results computed a second way, by PostgreSQL itself: what the tests compare against."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import text

from etl_lib.core.contract import ETL_VARIABLES, statistic_signal_names
from etl_lib.core.dates import day_bounds

SQL_STATISTICS = """
SELECT t.name AS turbine, date_bin('10 minutes', d.timestamp, TIMESTAMPTZ '2000-01-01 00:00Z') AS timestamp,
       {selects}
FROM data d JOIN turbine t ON t.id = d.turbine_id LEFT JOIN farm f ON f.id = t.farm_id
WHERE d.timestamp >= :start AND d.timestamp < :end AND (CAST(:farm AS text) IS NULL OR f.name = :farm)
GROUP BY 1, 2
"""
SQL_FUNCTIONS = {"mean": "avg", "min": "min", "max": "max", "std": "stddev_samp"}


def statistics_in_sql(source_engine, run_date: dt.date, farm: str | None = None) -> pd.Series:
    """The ETL's statistics computed directly by PostgreSQL on the source (of the farm named ``farm``; None: of
    every farm): values indexed by ``(turbine, signal, timestamp)``, the undefined ones left out."""
    selects = ",\n       ".join(
        f"{fn}(d.{variable}) AS {variable}_{stat}" for variable in ETL_VARIABLES for stat, fn in SQL_FUNCTIONS.items()
    )
    start, end = day_bounds(run_date)
    with source_engine.connect() as conn:
        wide = pd.read_sql(
            text(SQL_STATISTICS.format(selects=selects)), conn, params={"start": start, "end": end, "farm": farm}
        )
    long = wide.melt(id_vars=["turbine", "timestamp"], var_name="signal", value_name="value").dropna()
    return long.set_index(["turbine", "signal", "timestamp"])["value"].sort_index()


SQL_COUNTS = """
SELECT t.name AS turbine, b.timestamp, {counts}, count(d.timestamp) AS rows
FROM turbine t CROSS JOIN generate_series(:start, :end - interval '10 minutes', interval '10 minutes') AS b(timestamp)
LEFT JOIN data d ON d.turbine_id = t.id AND d.timestamp >= b.timestamp AND d.timestamp < b.timestamp + interval '10 minutes'
GROUP BY 1, 2 ORDER BY 1, 2
"""


def counts_in_sql(source_engine, run_date: dt.date) -> pd.DataFrame:
    """Per turbine and 10-minute bucket of the day: rows and non-null samples of each variable, by PostgreSQL."""
    counts = ", ".join(f"count(d.{v}) AS {v}_count" for v in ETL_VARIABLES)
    start, end = day_bounds(run_date)
    with source_engine.connect() as conn:
        return pd.read_sql(text(SQL_COUNTS.format(counts=counts)), conn, params={"start": start, "end": end}).set_index(
            ["turbine", "timestamp"]
        )


def target_day(target_engine, run_date: dt.date, farm: str | None = None) -> pd.Series:
    """The target's values of the day (of the farm named ``farm``; None: of every farm), indexed by
    ``(turbine, signal, timestamp)``."""
    start, end = day_bounds(run_date)
    with target_engine.connect() as conn:
        frame = pd.read_sql(
            text(
                "SELECT t.name AS turbine, s.name AS signal, d.timestamp, d.value FROM data d "
                "JOIN signal s ON s.id = d.signal_id JOIN turbine t ON t.id = s.turbine_id "
                "LEFT JOIN farm f ON f.id = t.farm_id "
                "WHERE d.timestamp >= :start AND d.timestamp < :end AND (CAST(:farm AS text) IS NULL OR f.name = :farm)"
            ),
            conn,
            params={"start": start, "end": end, "farm": farm},
        )
    return frame.set_index(["turbine", "signal", "timestamp"])["value"].sort_index()


def assert_statistics_equal_sql(source_engine, target_engine, day: dt.date, until: dt.datetime | None = None) -> None:
    """The target's statistics of ``day`` (those of the buckets before ``until``, when given: a day not over yet)
    are PostgreSQL's own on the source, every one and no other."""
    expected = statistics_in_sql(source_engine, day)
    if until is not None:
        expected = expected[expected.index.get_level_values("timestamp") < until]
    everything = target_day(target_engine, day)
    actual = everything[everything.index.get_level_values("signal").isin(statistic_signal_names())]
    assert actual.index.equals(expected.index)
    np.testing.assert_allclose(actual.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-9)
