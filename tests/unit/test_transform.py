"""10-minute statistics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from etl_lib.pipeline.transform import aggregate as aggregate_farm
from etl_lib.pipeline.transform import bucket_means, to_signal_rows, trusted_statistics

VARIABLES = ["wind_speed", "power"]


def samples(values_by_minute: dict[int, tuple[float | None, float | None]], turbine: str = "WT01") -> pd.DataFrame:
    """One turbine's rows at 2024-10-01 00:MM UTC with given (wind_speed, power), as a grid: columns
    ``(turbine, variable)``."""
    index = pd.DatetimeIndex(
        [pd.Timestamp("2024-10-01T00:00Z") + pd.Timedelta(minutes=m) for m in values_by_minute], name="timestamp"
    )
    wind, power = zip(*values_by_minute.values())
    frame = pd.DataFrame({(turbine, "wind_speed"): wind, (turbine, "power"): power}, index=index, dtype="float64")
    frame.columns.names = ["turbine", "variable"]
    return frame


def aggregate(grid: pd.DataFrame) -> pd.DataFrame:
    """The statistics of WT01, columns ``(variable, statistic)``."""
    return aggregate_farm(grid, VARIABLES)[0]["WT01"]


def rows_of(grid: pd.DataFrame) -> pd.DataFrame:
    return to_signal_rows(aggregate_farm(grid, VARIABLES)[0])


def test_buckets_are_labelled_by_start_and_closed_on_the_left():
    frame = samples({0: (1.0, 10.0), 9: (3.0, 30.0), 10: (5.0, 50.0), 19: (7.0, 70.0)})
    stats = aggregate(frame)
    assert list(stats.index) == [pd.Timestamp("2024-10-01T00:00Z"), pd.Timestamp("2024-10-01T00:10Z")]
    first = stats.loc["2024-10-01T00:00Z"]
    assert first[("wind_speed", "mean")] == 2.0
    assert first[("wind_speed", "min")] == 1.0
    assert first[("wind_speed", "max")] == 3.0
    # sample std (ddof=1) of {1, 3}: sqrt(((1-2)^2 + (3-2)^2) / 1) = sqrt(2)
    assert math.isclose(first[("wind_speed", "std")], math.sqrt(2.0), rel_tol=1e-15)
    assert stats.loc["2024-10-01T00:10Z", ("power", "mean")] == 60.0


def test_statistics_ignore_nulls_and_a_lone_sample_has_no_std():
    frame = samples({0: (2.0, None), 1: (4.0, None), 2: (None, 7.0), 3: (9.0, None)})
    stats = aggregate(frame).loc["2024-10-01T00:00Z"]
    assert stats[("wind_speed", "mean")] == 5.0  # (2 + 4 + 9) / 3, the null ignored
    # sample variance of {2, 4, 9}: ((3^2 + 1^2 + 4^2) / 2) = 13
    assert math.isclose(stats[("wind_speed", "std")], math.sqrt(13.0), rel_tol=1e-15)
    assert stats[("power", "mean")] == 7.0
    assert np.isnan(stats[("power", "std")])

    rows = rows_of(frame)
    assert "power_std" not in set(rows["signal"])
    assert set(rows["signal"]) == {
        "wind_speed_mean",
        "wind_speed_min",
        "wind_speed_max",
        "wind_speed_std",
        "power_mean",
        "power_min",
        "power_max",
    }


def test_a_bucket_without_samples_writes_nothing():
    frame = samples({0: (1.0, 1.0), 1: (2.0, 2.0), 30: (3.0, 3.0), 31: (5.0, 5.0)})
    stats = aggregate(frame)
    assert list(stats.index.strftime("%H:%M")) == ["00:00", "00:30"]
    rows = rows_of(frame)
    assert len(rows) == 2 * 8
    assert not rows["value"].isna().any()


def test_a_bucket_of_only_nulls_writes_nothing_for_that_variable():
    frame = samples({0: (None, 5.0), 1: (None, 6.0)})
    rows = rows_of(frame)
    assert set(rows["signal"]) == {"power_mean", "power_min", "power_max", "power_std"}


def test_turbines_are_aggregated_apart_and_rows_name_their_turbine():
    grid = pd.concat(
        [samples({0: (1.0, 10.0), 1: (3.0, 30.0)}, "WT01"), samples({0: (5.0, 50.0), 1: (9.0, 90.0)}, "WT02")], axis=1
    )
    stats, overflowed = aggregate_farm(grid, VARIABLES)
    assert overflowed == 0
    assert stats.loc["2024-10-01T00:00Z", ("WT01", "power", "mean")] == 20.0
    assert stats.loc["2024-10-01T00:00Z", ("WT02", "power", "mean")] == 70.0
    rows = to_signal_rows(stats)
    assert rows.groupby("turbine").size().to_dict() == {"WT01": 8, "WT02": 8}
    assert rows.set_index(["turbine", "signal"]).loc[("WT02", "wind_speed_max"), "value"] == 9.0


def test_a_statistic_that_overflows_is_left_out_and_counted():
    """1e308 + 1.5e308 overflows: the mean and the std of that bucket are not finite, so not written."""
    grid = samples({0: (1e308, 5.0), 1: (1.5e308, 6.0), 10: (2.0, 7.0), 11: (4.0, 9.0)})
    stats, overflowed = aggregate_farm(grid, VARIABLES)
    first = stats.loc["2024-10-01T00:00Z", "WT01"]
    assert np.isnan(first[("wind_speed", "mean")]) and np.isnan(first[("wind_speed", "std")])
    assert first[("wind_speed", "max")] == 1.5e308 and first[("power", "mean")] == 5.5
    assert overflowed == 2
    rows = to_signal_rows(stats)
    assert np.isfinite(rows["value"]).all()
    assert stats.loc["2024-10-01T00:10Z", ("WT01", "wind_speed", "mean")] == 3.0


def test_the_numpy_path_on_the_day_grid_equals_pandas_resample_overflow_and_gaps_included():
    index = pd.date_range("2024-10-01T00:00Z", periods=1440, freq="1min", name="timestamp")
    rng = np.random.default_rng(7)
    grid = pd.DataFrame(
        rng.normal(500, 300, (1440, 4)),
        index=index,
        columns=pd.MultiIndex.from_product([["WT01", "WT02"], VARIABLES], names=["turbine", "variable"]),
    )
    grid.iloc[100:135, :2] = np.nan  # a gap of WT01: three empty buckets and a partial one
    grid.iloc[200, 2] = np.nan  # one null
    grid.iloc[301:310, 3] = np.nan  # a bucket with a lone sample: no std
    grid.iloc[500:502, 0] = [1e308, 1.5e308]  # overflows
    fast, fast_overflowed = aggregate_farm(grid, VARIABLES)
    slow, slow_overflowed = aggregate_farm(grid.iloc[:-1], VARIABLES)  # not whole buckets: pandas' resample
    assert fast_overflowed == slow_overflowed == 2
    pd.testing.assert_frame_equal(fast.iloc[:-1], slow.iloc[:-1], rtol=1e-13, atol=0, check_freq=False)
    assert np.isnan(fast.loc["2024-10-01T05:00Z", ("WT02", "power", "std")])  # a lone sample
    assert fast.loc["2024-10-01T05:00Z", ("WT02", "power", "mean")] == grid.iloc[300, 3]
    assert fast.loc["2024-10-01T01:40Z":"2024-10-01T02:00Z", "WT01"].isna().all().all()  # the gap
    assert fast.loc["2024-10-01T02:10Z", ("WT01", "power", "min")] == grid.iloc[135:140, 1].min()


def day_grid(seed: int = 3) -> pd.DataFrame:
    """A day of two turbines on the 1-minute grid, values with decimals (a sum's order shows in its last digit)."""
    index = pd.date_range("2024-10-01T00:00Z", periods=1440, freq="1min", name="timestamp")
    return pd.DataFrame(
        np.random.default_rng(seed).normal(500, 300, (1440, 4)),
        index=index,
        columns=pd.MultiIndex.from_product([["WT01", "WT02"], VARIABLES], names=["turbine", "variable"]),
    )


def test_statistics_do_not_depend_on_how_the_frame_lies_in_memory():
    grid = day_grid()
    by_turbine = pd.DataFrame(np.asfortranarray(grid.to_numpy()), index=grid.index, columns=grid.columns)
    pd.testing.assert_frame_equal(aggregate_farm(grid, VARIABLES)[0], aggregate_farm(by_turbine, VARIABLES)[0])
    first = aggregate_farm(grid, VARIABLES)[0].loc["2024-10-01T00:00Z", ("WT01", "power", "mean")]
    total = 0.0
    for value in grid.iloc[:10, 1]:  # a bucket's samples added one after the other (not Python's compensated sum)
        total += value
    assert first == total / 10


def test_trusted_statistics_cover_only_buckets_with_a_refused_sample_and_equal_those_of_the_good_samples():
    grid = day_grid()
    good = grid.notna()
    assert trusted_statistics(grid, good, VARIABLES).empty  # every sample good: nothing beside the as-measured
    assert list(trusted_statistics(grid, good, VARIABLES).columns.names) == ["turbine", "variable", "statistic"]
    good.iloc[[21, 25], 3] = False  # two power samples of WT02 refused, in the bucket of 00:20
    trusted = trusted_statistics(grid, good, VARIABLES)
    assert list(trusted.index) == [pd.Timestamp("2024-10-01T00:20Z")]
    kept = grid.iloc[20:30, 3].drop(grid.index[[21, 25]])
    assert list(trusted.columns) == [("WT02", "power", f"good_{s}") for s in ("mean", "min", "max", "std")]
    assert trusted.iloc[0].tolist() == pytest.approx([kept.mean(), kept.min(), kept.max(), kept.std()], rel=1e-15)


def test_bucket_means_of_several_signals_in_one_pass_equal_pandas_mean_of_each():
    grid = day_grid()
    potential, share = grid.xs("power", axis=1, level="variable"), grid.xs("wind_speed", axis=1, level="variable")
    means = bucket_means({"power_potential": potential, "power_full_performance": share})
    assert list(means.columns) == [
        ("WT01", "power", "potential"),
        ("WT02", "power", "potential"),
        ("WT01", "power", "full_performance"),
        ("WT02", "power", "full_performance"),
    ]
    expected = potential.resample("10min").mean()
    for turbine in ("WT01", "WT02"):
        assert means[(turbine, "power", "potential")].tolist() == expected[turbine].tolist()
