"""The ETL through the real API process and both real databases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from etl_lib.core.contract import (
    ETL_VARIABLES,
    FULL_PERFORMANCE_SIGNAL,
    POTENTIAL_SIGNAL,
    etl_signal_names,
    statistic_signal_names,
    trusted_signal_names,
)
from etl_lib.core.errors import ConfigurationError, InvalidDateError, NoSourceDataError
from etl_lib.pipeline.run import run_etl
from harness.sql import counts_in_sql, statistics_in_sql, target_day


def count_target_rows(target_engine) -> int:
    with target_engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM data")).scalar_one()


TURBINES = ["WT01", "WT02", "WT03", "WT04"]


# 2024-10-01 carries the seeded gap (35 minutes of WT03), nulls and spikes; 10-05 and 10-10 are complete.
@pytest.mark.parametrize("day", [dt.date(2024, 10, 1), dt.date(2024, 10, 5), dt.date(2024, 10, 10)])
def test_target_equals_sql_statistics_on_source_for_every_turbine(settings, source_engine, target_engine, day):
    result = run_etl(day, settings)
    expected = statistics_in_sql(source_engine, day)
    counts = counts_in_sql(source_engine, day)
    everything = target_day(target_engine, day)
    actual = everything[everything.index.get_level_values("signal").isin(statistic_signal_names())]

    assert list(result.scope.turbines) == TURBINES
    assert set(expected.index.get_level_values("turbine")) == set(TURBINES)
    assert result.rows_read == counts["rows"].sum()
    assert result.buckets == (counts[[f"{v}_count" for v in ETL_VARIABLES]].sum(axis=1) > 0).sum()
    signals = everything.index.get_level_values("signal")
    trusted = everything[signals.isin(trusted_signal_names())]
    # The statistics, plus _count and _quality of each variable, the potential power and the share of full
    # performance for every one of the 144 buckets of every turbine, plus the good samples' statistics where a
    # bucket holds one the checks refused.
    complete = len(TURBINES) * 144 * (2 * len(ETL_VARIABLES) + 2)
    assert result.rows_written == len(expected) + complete + len(trusted) == len(everything)
    every_bucket = {(t, s) for t in TURBINES for s in [*etl_signal_names(), POTENTIAL_SIGNAL, FULL_PERFORMANCE_SIGNAL]}
    assert set(everything.index.droplevel("timestamp")) == every_bucket | set(trusted.index.droplevel("timestamp"))
    potential = everything.xs(POTENTIAL_SIGNAL, level="signal")
    assert len(potential) == len(TURBINES) * 144 and (potential >= 0).all()
    refused = {
        (turbine, bucket)
        for (turbine, variable), flags in (~result.quality.good()).items()
        if variable in ETL_VARIABLES
        for bucket in flags[flags & result.quality.grid[(turbine, variable)].notna()].index.floor("10min")
    }
    assert {(t, stamp) for t, _, stamp in trusted.index} <= refused
    assert (len(trusted) > 0) == (day == dt.date(2024, 10, 1))  # the faults of the 1st; the 5th and 10th are clean
    assert actual.index.equals(expected.index)
    np.testing.assert_allclose(actual.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-9)
    for variable in ETL_VARIABLES:
        stored = everything.xs(f"{variable}_count", level="signal")
        assert stored.index.equals(counts.index)
        np.testing.assert_array_equal(stored.to_numpy(), counts[f"{variable}_count"].to_numpy())


def test_the_seeded_gap_is_in_the_source_and_the_target(settings, source_engine, target_engine):
    """2024-10-01 13:20-13:54 is absent from WT03 in the default seed (docs/quality.md)."""
    day = dt.date(2024, 10, 1)
    counts = counts_in_sql(source_engine, day)
    assert counts["rows"].groupby(level="turbine").sum().to_dict() == {
        "WT01": 1440,
        "WT02": 1440,
        "WT03": 1405,
        "WT04": 1440,
    }
    run_etl(day, settings)
    target = target_day(target_engine, day)
    gap_buckets = pd.date_range("2024-10-01T13:20Z", periods=3, freq="10min")
    for variable in ETL_VARIABLES:
        count, quality = (
            target.xs(("WT03", f"{variable}_{m}"), level=("turbine", "signal")) for m in ("count", "quality")
        )
        assert count.loc[gap_buckets].tolist() == [0, 0, 0]
        assert count.loc["2024-10-01T13:50Z"] == 5 and quality.loc["2024-10-01T13:50Z"] == 0.5
        neighbour = target.xs(("WT02", f"{variable}_count"), level=("turbine", "signal"))
        assert neighbour.loc[gap_buckets].tolist() == [10, 10, 10]


def test_rerun_replaces_the_day_without_duplicates(settings, source_engine, target_engine):
    first = run_etl("2024-10-03", settings)
    before = count_target_rows(target_engine)
    again = run_etl("2024-10-03", settings)
    statistics = len(statistics_in_sql(source_engine, dt.date(2024, 10, 3)))
    trusted = len(target_day(target_engine, dt.date(2024, 10, 3)).filter(like="_good_"))
    assert again.rows_written == first.rows_written == statistics + len(TURBINES) * 144 * 6 + trusted
    assert count_target_rows(target_engine) == before


def test_rerunning_one_turbine_leaves_the_others_identical(settings, target_engine):
    day = dt.date(2024, 10, 4)
    run_etl(day, settings)
    before = target_day(target_engine, day)
    with target_engine.begin() as conn:  # damage WT02's day, so its re-run has something to repair
        conn.execute(
            text(
                "UPDATE data SET value = -1 FROM signal s JOIN turbine t ON t.id = s.turbine_id "
                "WHERE s.id = data.signal_id AND t.name = 'WT02' AND data.timestamp >= '2024-10-04' "
                "AND data.timestamp < '2024-10-05'"
            )
        )
    ctids = _physical_rows(target_engine, day, exclude="WT02")
    result = run_etl(day, settings, turbines=["WT02"])
    assert list(result.scope.turbines) == ["WT02"]
    after = target_day(target_engine, day)
    pd.testing.assert_series_equal(after, before)  # WT02 repaired, the others equal
    assert _physical_rows(target_engine, day, exclude="WT02") == ctids  # and the others not even rewritten


def _physical_rows(engine, day: dt.date, exclude: str) -> list:
    with engine.connect() as conn:
        return (
            conn.execute(
                text(
                    "SELECT data.ctid::text FROM data JOIN signal s ON s.id = data.signal_id JOIN turbine t ON t.id = s.turbine_id "
                    "WHERE t.name <> :t AND data.timestamp >= :d AND data.timestamp < :d + interval '1 day' ORDER BY 1"
                ),
                {"t": exclude, "d": day},
            )
            .scalars()
            .all()
        )


def test_an_unknown_turbine_is_refused_with_the_valid_names(settings, target_engine):
    before = count_target_rows(target_engine)
    with pytest.raises(ConfigurationError, match="no turbine") as raised:
        run_etl("2024-10-02", settings, turbines=["WT09"])
    assert "WT01, WT02, WT03, WT04" in raised.value.fix
    assert count_target_rows(target_engine) == before


def test_date_outside_the_data_fails_clearly_and_writes_nothing(settings, target_engine):
    before = count_target_rows(target_engine)
    with pytest.raises(NoSourceDataError, match="no samples for 2024-12-01"):
        run_etl("2024-12-01", settings)
    assert count_target_rows(target_engine) == before


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("20241001", "not a date in the form"),
        ("2024-02-30", "does not exist"),
        ("2999-01-01", "not over yet"),
        ("２０２４-１０-０１", r"not a date in the form YYYY-MM-DD \(ASCII digits"),  # full-width digits match \d
        ("٢٠٢٤-١٠-٠١", r"not a date in the form YYYY-MM-DD \(ASCII digits"),  # Arabic-Indic digits too
        ("1924-10-01", "before 2000-01-01"),
        ("1999-12-31", "before 2000-01-01"),
    ],
)
def test_bad_dates_are_refused_before_any_work(settings, target_engine, value, message):
    before = count_target_rows(target_engine)
    with pytest.raises(InvalidDateError, match=message):
        run_etl(value, settings)
    assert count_target_rows(target_engine) == before
