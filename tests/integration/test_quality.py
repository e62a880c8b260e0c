"""Data quality through the real parts: faults injected into the real source are flagged by the ETL
through the API, and the flags reach the target's quality signals and the run record. (The checks
themselves, on generated farm data: tests/unit/test_quality.py.)"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import text

from etl_lib.core.dates import day_bounds
from etl_lib.core.errors import ConfigurationError, NoSourceDataError
from etl_lib.pipeline.run import run_etl
from etl_lib.simulation.faults import FARM, Fault
from etl_lib.storage.copy import copy_frame
from etl_lib.storage.run_record import read_runs
from etl_lib.storage.source import source_data
from etl_lib.storage.target import etl_run
from harness.farm_data import at, counts, flagged, generated, minutes

FAULT_DAY = dt.date(2024, 11, 5)  # outside the seeded 2024-10-01..10 of the session's stack


def fault(kind: str, hhmm: str, n: int = 1, variable: str = "power", value: float = 0.0, turbine: str = "WT01"):
    return Fault(kind, at(FAULT_DAY, hhmm).to_pydatetime(), n, variable, value, turbine=turbine)


TEST_FAULTS = (
    fault("gap", "02:00", 30, turbine="WT02"),
    fault("null", "04:03", 2, "wind_speed"),
    fault("out_of_range", "05:00", 3, "ambient_temperature", -60.0, turbine="WT03"),
    fault("stuck", "10:00", 60, "wind_speed", turbine="WT04"),
    fault("spike", "13:05", 1, "power", 1400.0, turbine="WT02"),
    fault("gust", "15:30", 1, "wind_speed", 8.0, turbine=FARM),
    fault("curtailment", "18:00", 60, "power", 600.0, turbine="WT03"),
)


def replace_source_day(source_engine, day: dt.date, samples: pd.DataFrame | None) -> None:
    """Delete ``day`` from the source and, unless ``samples`` is None, COPY them in for the farm's turbines."""
    start, end = day_bounds(day)
    with source_engine.begin() as conn:
        conn.execute(text("DELETE FROM data WHERE timestamp >= :s AND timestamp < :e"), {"s": start, "e": end})
        if samples is not None:
            ids = dict(conn.execute(text("SELECT name, id FROM turbine")).all())
            rows = samples.reset_index()
            rows["turbine_id"] = rows.pop("turbine").map(ids).astype("int64")
            copy_frame(conn, source_data.name, rows)


def target_quality(target_engine, day: dt.date) -> pd.Series:
    """The target's ``_quality`` signals of ``day``: index (turbine, signal, timestamp)."""
    start, end = day_bounds(day)
    with target_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.name, s.name, d.timestamp, d.value FROM data d JOIN signal s ON s.id = d.signal_id "
                "JOIN turbine t ON t.id = s.turbine_id WHERE s.name LIKE '%_quality' AND d.timestamp >= :s "
                "AND d.timestamp < :e"
            ),
            {"s": start, "e": end},
        ).all()
    table = pd.DataFrame(rows, columns=["turbine", "signal", "timestamp", "value"])
    table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True)
    return table.set_index(["turbine", "signal", "timestamp"])["value"].sort_index()


@pytest.fixture(scope="module")
def faulty(settings, source_engine, target_engine):
    """The fault day in the real source with TEST_FAULTS, run once through the API and the ETL."""
    replace_source_day(source_engine, FAULT_DAY, generated(FAULT_DAY, faults=TEST_FAULTS))
    try:
        result = run_etl(FAULT_DAY, settings)
        yield result, target_quality(target_engine, FAULT_DAY)
    finally:
        replace_source_day(source_engine, FAULT_DAY, None)
        start, end = day_bounds(FAULT_DAY)
        with target_engine.begin() as conn:
            conn.execute(text("DELETE FROM data WHERE timestamp >= :s AND timestamp < :e"), {"s": start, "e": end})
            conn.execute(etl_run.delete().where(etl_run.c.run_date == FAULT_DAY))


def test_faults_in_the_real_source_are_flagged_by_the_etl_and_nothing_else(faulty):
    result, _ = faulty
    gap = minutes(FAULT_DAY, "02:00", 30)
    expected = {
        **{("WT02", variable, "gap"): gap for variable in ("wind_speed", "power", "ambient_temperature")},
        ("WT01", "wind_speed", "null"): minutes(FAULT_DAY, "04:03", 2),
        ("WT03", "ambient_temperature", "range"): minutes(FAULT_DAY, "05:00", 3),
        ("WT03", "ambient_temperature", "spike"): minutes(FAULT_DAY, "05:00", 3),  # the -60 °C burst stands out
        ("WT04", "wind_speed", "frozen"): minutes(FAULT_DAY, "10:00", 60),
        ("WT02", "power", "spike"): minutes(FAULT_DAY, "13:05", 1),
        ("WT02", "power", "range"): minutes(FAULT_DAY, "13:05", 1),  # +1,400 kW at rated power
        ("WT03", "power", "under_performance"): minutes(FAULT_DAY, "18:00", 60),
    }
    assert counts(result.quality).keys() == expected.keys()  # the gust front at 15:30 is no spike
    for key, window in expected.items():
        assert flagged(result.quality, *key).equals(window), key


def test_flags_reach_the_target_quality_and_the_run_record(faulty, target_engine):
    result, quality = faulty
    assert quality[("WT03", "power_quality", at(FAULT_DAY, "18:00"))] == 0.0  # derated
    assert quality[("WT04", "wind_speed_quality", at(FAULT_DAY, "10:30"))] == 0.0  # frozen
    assert quality[("WT01", "wind_speed_quality", at(FAULT_DAY, "04:00"))] == pytest.approx(0.8)  # 2 nulls
    assert quality[("WT02", "power_quality", at(FAULT_DAY, "13:00"))] == pytest.approx(0.9)  # a spike
    assert (quality.xs("WT01", level="turbine").drop(("wind_speed_quality", at(FAULT_DAY, "04:00"))) == 1.0).all()
    runs = read_runs(target_engine, FAULT_DAY)
    last = runs.iloc[-1]
    assert last["status"] == "succeeded" and last["flag_counts"] == result.quality.flag_counts()
    assert last["flag_counts"]["WT04"]["frozen"]["wind_speed"] == 60


def test_a_failed_run_is_recorded_with_its_error(settings, target_engine):
    day = dt.date(2024, 10, 2)
    before = set(read_runs(target_engine, day)["id"])
    with pytest.raises(ConfigurationError):
        run_etl(day, settings, turbines=["WT99"])  # a typo: the farm has no such turbine
    runs = read_runs(target_engine, day)
    runs = runs[~runs["id"].isin(before)]
    with target_engine.begin() as conn:
        conn.execute(etl_run.delete().where(etl_run.c.id.in_([int(i) for i in runs["id"]])))
    assert runs["status"].tolist() == ["failed"] and "no turbine(s) 'WT99'" in runs.iloc[0]["error"]


def test_a_day_without_source_data_is_no_run_and_leaves_no_record(settings, target_engine, api):
    day = dt.date(2024, 12, 2)  # nothing in the source
    before = len(read_runs(target_engine, day))
    with pytest.raises(NoSourceDataError) as raised:
        run_etl(day, settings)
    coverage = api.get("/coverage").json()
    assert f"the source covers {coverage['first'][:10]} to {coverage['last'][:10]}" in str(raised.value)
    assert len(read_runs(target_engine, day)) == before


def test_a_bad_threshold_override_fails_before_any_work_and_names_the_threshold(settings, target_engine):
    day = dt.date(2024, 10, 5)
    before = set(read_runs(target_engine, day)["id"])
    with pytest.raises(ConfigurationError, match="frozen_wind_sped"):
        run_etl(day, settings, thresholds={"frozen_wind_sped": 5})
    runs = read_runs(target_engine, day)
    added = runs[~runs["id"].isin(before)]
    with target_engine.begin() as conn:
        conn.execute(etl_run.delete().where(etl_run.c.id.in_([int(i) for i in added["id"]])))
    assert added["status"].tolist() == ["failed"] and "frozen_wind_sped" in added.iloc[0]["error"]
    assert pd.isna(added.iloc[0]["rows_read"])  # refused before extracting
