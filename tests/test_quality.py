"""Data quality: each fault injected into the real source is flagged at its samples by the right
check, and shows in the target's ``<variable>_count`` / ``<variable>_quality`` signals."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, text

from etl_lib import generator, run_etl
from etl_lib.dates import day_bounds
from etl_lib.errors import ConfigurationError, NoSourceDataError
from etl_lib.query import read_signals
from etl_lib.quality import (
    QualityThresholds,
    check_day,
    frozen_flag,
    power_curve_flag,
    range_flag,
    spike_flag,
    thresholds_from,
)
from etl_lib.run_record import read_runs
from etl_lib.seed_faults import DEFAULT_FAULTS, Fault, apply_faults
from etl_lib.source_db import seed_source
from etl_lib.target_schema import ETL_VARIABLES, etl_run, target_data

# Dates of their own, outside the seeded 2024-10-01..10 of the session's stack.
FAULT_DAY = dt.date(2024, 11, 5)
CLEAN_DAY = dt.date(2024, 11, 6)


def at(hhmm: str, day: dt.date = FAULT_DAY) -> pd.Timestamp:
    return pd.Timestamp(f"{day.isoformat()}T{hhmm}Z")


def minutes(hhmm: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(at(hhmm), periods=n, freq="1min")


def fault(kind: str, hhmm: str, n: int = 1, variable: str = "power", value: float = 0.0) -> Fault:
    return Fault(kind, at(hhmm).to_pydatetime(), n, variable, value)


TEST_FAULTS = (
    fault("gap", "02:00", 30),
    fault("null", "04:03", 2, "wind_speed"),
    fault("null", "04:07", 1, "power"),
    fault("out_of_range", "05:00", 3, "ambient_temperature", -60.0),
    fault("out_of_range", "06:10", 4, "power", 3276.7),
    fault("stuck", "10:00", 60, "wind_speed"),
    fault("spike", "13:05", 1, "power", 1400.0),
    fault("spike", "19:15", 1, "wind_speed", 15.0),
    fault("curtailment", "18:00", 30, "power", 600.0),
)


def _remove_day(source_engine, target_engine, day: dt.date) -> None:
    start, end = day_bounds(day)
    with source_engine.begin() as conn:
        conn.execute(text("DELETE FROM data WHERE timestamp >= :s AND timestamp < :e"), {"s": start, "e": end})
    with target_engine.begin() as conn:
        conn.execute(delete(target_data).where(target_data.c.timestamp >= start, target_data.c.timestamp < end))
        conn.execute(delete(etl_run).where(etl_run.c.run_date == day))


@pytest.fixture(scope="module")
def faulty(settings, source_engine, target_engine):
    """The fault day seeded with TEST_FAULTS and run once: (result, target values wide)."""
    seed_source(source_engine, FAULT_DAY, 1, faults=TEST_FAULTS)
    try:
        result = run_etl(FAULT_DAY, settings)
        start, end = day_bounds(FAULT_DAY)
        yield result, read_signals(None, start, end, engine=target_engine)
    finally:
        _remove_day(source_engine, target_engine, FAULT_DAY)


def flagged(result, variable: str, check: str) -> pd.DatetimeIndex:
    column = result.quality.flags[(variable, check)]
    return column[column].index


def bucket(target: pd.DataFrame, hhmm: str, signal: str) -> float:
    return target.at[at(hhmm), signal]


def assert_only_these_buckets_lose_quality(target: pd.DataFrame, variable: str, expected: dict[str, float]):
    quality = target[f"{variable}_quality"]
    assert len(quality) == 144
    wanted = pd.Series(1.0, index=quality.index)
    for hhmm, share in expected.items():
        wanted[at(hhmm)] = share
    pd.testing.assert_series_equal(quality, wanted, check_names=False, check_freq=False, atol=1e-12)


# --- faults in the real source, through the API, into the target --------------------------------------


def test_gap_is_flagged_and_its_buckets_have_count_and_quality_zero(faulty):
    result, target = faulty
    gap = minutes("02:00", 30)
    for variable in ("wind_speed", "power", "ambient_temperature"):
        assert flagged(result, variable, "gap").equals(gap)
    for variable in ETL_VARIABLES:
        for hhmm in ("02:00", "02:10", "02:20"):
            assert bucket(target, hhmm, f"{variable}_count") == 0
            assert bucket(target, hhmm, f"{variable}_quality") == 0
            assert np.isnan(bucket(target, hhmm, f"{variable}_mean"))  # no statistics without samples
        assert bucket(target, "02:30", f"{variable}_count") == 10


def test_nulls_are_flagged_and_lower_count_and_quality(faulty):
    result, target = faulty
    assert flagged(result, "wind_speed", "null").equals(minutes("04:03", 2))
    assert flagged(result, "power", "null").equals(minutes("04:07", 1))
    assert bucket(target, "04:00", "wind_speed_count") == 8
    assert bucket(target, "04:00", "wind_speed_quality") == pytest.approx(0.8)
    assert bucket(target, "04:00", "power_count") == 9
    assert bucket(target, "04:00", "power_quality") == pytest.approx(0.9)


def test_out_of_range_values_are_flagged(faulty):
    result, target = faulty
    assert flagged(result, "ambient_temperature", "range").equals(minutes("05:00", 3))
    assert flagged(result, "power", "range").equals(minutes("06:10", 4))
    assert flagged(result, "wind_speed", "range").empty
    assert bucket(target, "06:10", "power_count") == 10  # present, so counted ...
    assert bucket(target, "06:10", "power_quality") == pytest.approx(0.6)  # ... but not good
    assert bucket(target, "06:10", "power_max") == 3276.7  # flags, not deletions: statistics keep them


def test_stuck_wind_sensor_is_flagged_as_frozen_for_exactly_its_hour(faulty):
    result, target = faulty
    assert flagged(result, "wind_speed", "frozen").equals(minutes("10:00", 60))
    assert flagged(result, "power", "frozen").empty
    for hhmm in ("10:00", "10:10", "10:20", "10:30", "10:40", "10:50"):
        assert bucket(target, hhmm, "wind_speed_count") == 10
        assert bucket(target, hhmm, "wind_speed_quality") == 0
        assert bucket(target, hhmm, "wind_speed_std") == 0


def test_spikes_are_flagged_at_their_sample_only(faulty):
    result, target = faulty
    assert flagged(result, "power", "spike").equals(
        pd.DatetimeIndex([*minutes("06:10", 4), at("13:05")])  # the out-of-range burst stands out too
    )
    assert flagged(result, "wind_speed", "spike").equals(minutes("19:15", 1))
    assert bucket(target, "13:00", "power_quality") == pytest.approx(0.9)
    assert bucket(target, "19:10", "wind_speed_quality") == pytest.approx(0.9)


def test_curtailment_is_flagged_by_the_power_curve_check(faulty):
    result, target = faulty
    window = minutes("18:00", 30)
    # Precondition: wind well inside the operating range, where the curve expects > 1,800 kW.
    assert result.samples.loc[window, "wind_speed"].between(12, 17).all()
    assert flagged(result, "power", "power_curve").equals(window)
    for hhmm in ("18:00", "18:10", "18:20"):
        assert bucket(target, hhmm, "power_quality") == 0


def test_every_fault_is_reflected_in_quality_and_nothing_else_is(faulty):
    _, target = faulty
    gap = {"02:00": 0.0, "02:10": 0.0, "02:20": 0.0}
    assert_only_these_buckets_lose_quality(
        target,
        "wind_speed",
        {**gap, "04:00": 0.8, **{f"10:{m}0": 0.0 for m in range(6)}, "19:10": 0.9},
    )
    # The stuck anemometer (10:00-10:59) reads a calm wind near cut-in, consistent with the real power there,
    # so the power curve check has nothing to say about power in that hour.
    power = {**gap, "04:00": 0.9, "06:10": 0.6, "13:00": 0.9, "18:00": 0.0, "18:10": 0.0, "18:20": 0.0}
    assert_only_these_buckets_lose_quality(target, "power", power)


def test_run_record_keeps_the_flag_counts_and_quality(faulty, target_engine):
    result, _ = faulty
    runs = read_runs(target_engine, FAULT_DAY)
    last = runs.iloc[-1]
    assert last["status"] == "succeeded" and last["id"] == result.run_id
    assert last["rows_read"] == 1440 - 30
    assert last["rows_written"] == result.rows_written
    assert last["flag_counts"] == result.summary()["flag_counts"]
    assert last["flag_counts"]["gap"] == {"wind_speed": 30, "power": 30, "ambient_temperature": 30}
    assert last["flag_counts"]["frozen"]["wind_speed"] == 60
    assert last["quality"] == result.summary()["quality"]
    assert last["quality"]["ambient_temperature"] == pytest.approx((1440 - 30 - 3) / 1440)
    assert last["error"] is None and last["started_at"] <= last["finished_at"]


def test_clean_data_has_quality_one_everywhere(settings, source_engine, target_engine):
    seed_source(source_engine, CLEAN_DAY, 1, faults=())
    try:
        result = run_etl(CLEAN_DAY, settings)
        start, end = day_bounds(CLEAN_DAY)
        target = read_signals(None, start, end, engine=target_engine)
    finally:
        _remove_day(source_engine, target_engine, CLEAN_DAY)
    assert result.summary()["quality"] == {"wind_speed": 1.0, "power": 1.0, "ambient_temperature": 1.0}
    assert all(n == 0 for per_variable in result.summary()["flag_counts"].values() for n in per_variable.values())
    for variable in ETL_VARIABLES:
        assert len(target) == 144
        assert (target[f"{variable}_quality"] == 1.0).all()
        assert (target[f"{variable}_count"] == 10).all()


def recorded_during(target_engine, day: dt.date, action) -> pd.DataFrame:
    """The etl_run rows of ``day`` that ``action()`` added (other tests may run the same day); removed after."""
    before = set(read_runs(target_engine, day)["id"])
    try:
        action()
    finally:
        runs = read_runs(target_engine, day)
        added = runs[~runs["id"].isin(before)]
        with target_engine.begin() as conn:
            conn.execute(delete(etl_run).where(etl_run.c.id.in_([int(i) for i in added["id"]])))
    return added


def test_a_failed_run_is_recorded_with_its_error(settings, target_engine):
    day = dt.date(2024, 12, 2)  # nothing in the source

    def fail():
        with pytest.raises(NoSourceDataError):
            run_etl(day, settings)

    runs = recorded_during(target_engine, day, fail)
    assert len(runs) == 1
    failed = runs.iloc[0]
    assert failed["status"] == "failed"
    assert "no samples for 2024-12-02" in failed["error"]
    assert pd.isna(failed["rows_read"]) and pd.isna(failed["quality"])


def test_a_bad_threshold_override_fails_before_any_work_and_names_the_threshold(settings, target_engine):
    def fail():
        with pytest.raises(ConfigurationError, match="frozen_wind_sped"):
            run_etl("2024-10-05", settings, thresholds={"frozen_wind_sped": 5})

    runs = recorded_during(target_engine, dt.date(2024, 10, 5), fail)
    assert runs["status"].tolist() == ["failed"] and "frozen_wind_sped" in runs.iloc[0]["error"]
    assert pd.isna(runs.iloc[0]["rows_read"])  # refused before extracting


# --- the checks as pure functions -------------------------------------------------------------------


def test_no_check_flags_clean_generated_data():
    """Thirty clean days of two seeds: every check stays silent (no false alarms)."""
    for seed in (42, 7):
        frame = generator.generate(days=30, seed=seed).set_index("timestamp")
        for day, samples in frame.groupby(frame.index.date):
            flags = check_day(samples, day).flags
            assert not flags.any().any(), (seed, day, flags.sum()[flags.sum() > 0].to_dict())


def test_default_faults_are_flagged_in_the_default_seed():
    frame = apply_faults(generator.generate(), DEFAULT_FAULTS).set_index("timestamp")
    days = {f.start.date() for f in DEFAULT_FAULTS}
    totals = pd.Series(0, index=pd.MultiIndex.from_tuples([], names=["variable", "check"]), dtype=int)
    for day in days:
        totals = totals.add(check_day(frame.loc[str(day)], day).flags.sum(), fill_value=0)
    totals = totals[totals > 0].astype(int).to_dict()
    assert totals == {
        ("wind_speed", "gap"): 35, ("power", "gap"): 35, ("ambient_temperature", "gap"): 35,
        ("wind_speed", "null"): 3, ("power", "null"): 1,
        ("wind_speed", "spike"): 2, ("power", "spike"): 1 + 4,
        ("wind_speed", "frozen"): 70,
        ("power", "range"): 4,
        ("power", "power_curve"): 90,
    }  # fmt: skip


def series(values, start="2024-10-01T00:00Z") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="1min"), dtype="float64")


def test_range_flag_is_inclusive_and_ignores_nulls():
    assert range_flag(series([-0.1, 0.0, 40.0, 40.1, None]), 0.0, 40.0).tolist() == [True, False, False, True, False]


def test_frozen_flag_needs_the_whole_run_and_respects_the_exemption():
    data = series([1, 2, 2, 2, 3, 4, 4, None, 4, 4])
    assert frozen_flag(data, 3).tolist() == [False, True, True, True, False, False, False, False, False, False]
    idle = series([-4, -4, -4, -4, 500])
    assert not frozen_flag(idle, 3, exempt=idle <= 20).any()


def test_spike_flag_finds_a_lone_outlier_but_not_a_step():
    noise = np.random.default_rng(0).normal(0, 0.3, 60)
    step = np.r_[np.full(30, 5.0), np.full(30, 15.0)] + noise
    assert not spike_flag(series(step), 11, 6.0, 3.0).any()
    spiky = step.copy()
    spiky[10] += 8
    assert spike_flag(series(spiky), 11, 6.0, 3.0).tolist() == [i == 10 for i in range(60)]


def test_power_curve_flag_each_condition():
    t = QualityThresholds()
    wind = series([1.0, 1.0, 8.0, 8.0, 12.0, 24.5, 3.5, None])
    power = series([300.0, -4.0, 0.0, 560.0, 1000.0, -4.0, 0.0, 900.0])
    # producing below cut-in | calm | idle in wind | on the curve | 766 kW short | near cut-out | near cut-in | no wind
    assert power_curve_flag(wind, power, t).tolist() == [True, False, True, False, True, False, False, False]


def test_thresholds_are_overridable_and_checked():
    assert thresholds_from({"frozen_wind_speed": 20}).frozen_wind_speed == 20
    assert thresholds_from(None) == QualityThresholds()
    with pytest.raises(ConfigurationError, match="frozen_power"):
        thresholds_from({"frozen_power": "often"})
    with pytest.raises(ConfigurationError, match="mapping of name to number"):
        thresholds_from('{"frozen_power": 3}')  # e.g. papermill -p passes a string
