"""10-minute statistics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from etl_lib.transform import aggregate, to_signal_rows


def samples(values_by_minute: dict[int, tuple[float | None, float | None]]) -> pd.DataFrame:
    """Rows at 2024-10-01 00:MM UTC with given (wind_speed, power)."""
    index = pd.DatetimeIndex(
        [pd.Timestamp("2024-10-01T00:00Z") + pd.Timedelta(minutes=m) for m in values_by_minute], name="timestamp"
    )
    wind, power = zip(*values_by_minute.values())
    return pd.DataFrame({"wind_speed": wind, "power": power}, index=index, dtype="float64")


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

    rows = to_signal_rows(aggregate(frame))
    assert "power_std" not in set(rows["signal"])
    assert set(rows["signal"]) == {
        "wind_speed_mean", "wind_speed_min", "wind_speed_max", "wind_speed_std",
        "power_mean", "power_min", "power_max",
    }  # fmt: skip


def test_a_bucket_without_samples_writes_nothing():
    frame = samples({0: (1.0, 1.0), 1: (2.0, 2.0), 30: (3.0, 3.0), 31: (5.0, 5.0)})
    stats = aggregate(frame)
    assert list(stats.index.strftime("%H:%M")) == ["00:00", "00:30"]
    rows = to_signal_rows(stats)
    assert len(rows) == 2 * 8
    assert not rows["value"].isna().any()


def test_a_bucket_of_only_nulls_writes_nothing_for_that_variable():
    frame = samples({0: (None, 5.0), 1: (None, 6.0)})
    rows = to_signal_rows(aggregate(frame))
    assert set(rows["signal"]) == {"power_mean", "power_min", "power_max", "power_std"}
