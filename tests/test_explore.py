"""The query helpers and the exploration notebook, against the session's real target."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from etl_lib import explore
from etl_lib.errors import QueryError
from etl_lib.notebook_runner import execute
from etl_lib.query import available_signals, check_signals, read_signals, signal_coverage, time_range
from etl_lib.settings import PROJECT_ROOT
from etl_lib.target_schema import etl_signal_names

NOTEBOOK = PROJECT_ROOT / "notebooks" / "explore.ipynb"


def sql_counts(engine, start: str, end: str) -> pd.DataFrame:
    query = text(
        "SELECT s.name AS signal, count(d.timestamp) AS rows, min(d.timestamp) AS first, max(d.timestamp) AS last "
        "FROM signal s LEFT JOIN data d ON d.signal_id = s.id AND d.timestamp >= :a AND d.timestamp < :b "
        "GROUP BY s.name ORDER BY s.name"
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query, {"a": start, "b": end}).mappings().all())
    return frame.set_index("signal")


def test_signal_coverage_agrees_with_sql_over_whole_days(target_engine):
    coverage = signal_coverage("2024-10-02", "2024-10-04", engine=target_engine)
    expected = sql_counts(target_engine, "2024-10-02T00:00Z", "2024-10-04T00:00Z")
    assert list(coverage.index) == list(expected.index) == available_signals(engine=target_engine)
    assert (coverage["rows"] == expected["rows"]).all()
    assert (coverage["expected"] == 288).all()
    assert np.allclose(coverage["coverage"], expected["rows"] / 288)
    assert (coverage["first"] == pd.to_datetime(expected["first"], utc=True)).all()
    assert (coverage["last"] == pd.to_datetime(expected["last"], utc=True)).all()
    assert coverage.loc["power_mean", "rows"] > 0


def test_signal_coverage_counts_the_buckets_that_start_in_a_partial_range(target_engine):
    # [06:05, 07:00) holds the buckets 06:10 ... 06:50: five, not the six a plain division gives.
    coverage = signal_coverage("2024-10-03T06:05", "2024-10-03T07:00", engine=target_engine)
    expected = sql_counts(target_engine, "2024-10-03T06:05Z", "2024-10-03T07:00Z")
    assert (coverage["expected"] == 5).all()
    assert (coverage["rows"] == expected["rows"]).all()


def test_signal_coverage_lists_every_signal_even_without_values(target_engine):
    coverage = signal_coverage("2023-01-01", "2023-01-02", engine=target_engine)
    assert set(etl_signal_names()) <= set(coverage.index)
    assert (coverage["rows"] == 0).all() and (coverage["coverage"] == 0).all()
    assert coverage["first"].isna().all()
    assert (explore.coverage_table(coverage)["first"] == "").all()


def test_require_values_names_the_empty_signals_and_the_range(target_engine):
    explore.require_values(signal_coverage("2024-10-02", "2024-10-03", engine=target_engine), ["power_mean"])
    with pytest.raises(QueryError) as error:
        explore.require_values(signal_coverage("2023-01-01", "2023-01-02", engine=target_engine), ["power_mean"])
    assert "no values of power_mean in [2023-01-01 00:00, 2023-01-02 00:00)" in error.value.problem
    assert "etl run 2023-01-01" in error.value.fix


def test_check_signals_names_the_unknown_ones_and_lists_the_valid_ones(target_engine):
    assert check_signals(["power_mean"], engine=target_engine) == ["power_mean"]
    assert check_signals("power_std", engine=target_engine) == ["power_std"]  # papermill -p signals power_std
    with pytest.raises(QueryError) as error:
        check_signals(["power_mean", "power_avg"], engine=target_engine)
    assert "'power_avg'" in error.value.problem and "'power_mean'" not in error.value.problem
    assert "power_mean" in error.value.fix and "wind_speed_std" in error.value.fix


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2024-10-02", "2024-10-01", "end must come after start"),
        ("2024-10-01", "2024-10-01", "end must come after start"),
        ("yesterday-ish", "2024-10-01", "start = 'yesterday-ish' is not a date"),
        (20241001, "2024-10-02", "start = 20241001 is not a date"),
        ("2024-10-01", None, "end = None is not a date"),
    ],
)
def test_time_range_refuses_bad_ranges_with_a_fix(start, end, says):
    with pytest.raises(QueryError) as error:
        time_range(start, end)
    assert says in str(error.value) and error.value.fix


def test_time_range_reads_offsets_and_naive_values_as_utc():
    first, last = time_range("2024-10-01T06:00+02:00", "2024-10-01T07:00")
    assert (str(first), str(last)) == ("2024-10-01 04:00:00+00:00", "2024-10-01 07:00:00+00:00")


def test_power_curve_by_the_method_of_bins():
    index = pd.date_range("2024-10-01", periods=4, freq="10min", tz="UTC")
    wide = pd.DataFrame({"wind_speed_mean": [3.1, 3.4, 7.9, np.nan], "power_mean": [10.0, 20.0, 500.0, 1.0]}, index)
    curve = explore.power_curve(wide)
    assert list(curve.index) == ["3.0–3.5", "7.5–8.0"]
    assert curve["buckets"].tolist() == [2, 1]
    assert curve["wind_speed"].tolist() == [3.25, 7.9]
    assert curve["power"].tolist() == [15.0, 500.0]
    assert curve.loc["3.0–3.5", "power_std"] == round(np.std([10.0, 20.0], ddof=1), 2)


def test_power_curve_of_the_target_agrees_with_sql(target_engine):
    means = read_signals(["wind_speed_mean", "power_mean"], "2024-10-01", "2024-10-11", engine=target_engine)
    curve = explore.power_curve(means)
    query = text(
        "SELECT floor(w.value / 0.5) * 0.5 AS bin, count(*) AS n, avg(p.value) AS power "
        "FROM data w JOIN signal sw ON sw.id = w.signal_id AND sw.name = 'wind_speed_mean' "
        "JOIN data p ON p.timestamp = w.timestamp JOIN signal sp ON sp.id = p.signal_id AND sp.name = 'power_mean' "
        "WHERE w.timestamp >= '2024-10-01T00:00Z' AND w.timestamp < '2024-10-11T00:00Z' GROUP BY 1 ORDER BY 1"
    )
    with target_engine.connect() as conn:
        rows = conn.execute(query).all()
    assert len(rows) == len(curve) > 20
    assert curve["buckets"].tolist() == [n for _, n, _ in rows]
    assert np.allclose(curve["power"], [round(p, 2) for _, _, p in rows], atol=0.006)


def test_daily_quality_is_the_mean_share_per_day_in_variable_order():
    index = pd.date_range("2024-10-01T23:40", periods=4, freq="10min", tz="UTC")
    quality = pd.DataFrame({"power_quality": [1.0, 0.5, 1.0, 1.0], "wind_speed_quality": [0.2, 0.4, 0.9, np.nan]}, index)
    table = explore.daily_quality(quality)
    assert list(table.columns) == ["wind_speed", "power", "buckets"]
    assert table.to_dict("index") == {
        "2024-10-01": {"wind_speed": 0.3, "power": 0.75, "buckets": 2},
        "2024-10-02": {"wind_speed": 0.9, "power": 1.0, "buckets": 2},
    }


def test_quality_signals_are_found_only_where_the_target_has_them():
    assert explore.quality_signals(["power_mean", "power_quality", "wind_speed_quality"]) == [
        "wind_speed_quality", "power_quality"]  # fmt: skip
    assert explore.quality_signals(etl_signal_names()) == [name for name in etl_signal_names() if name.endswith("_quality")]
    assert explore.quality_signals(["power_mean", "wind_speed_mean"]) == []


def test_notebook_reads_through_etl_lib_and_has_a_parameters_cell_first():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "parameters" in code_cells[0].metadata.get("tags", [])
    assert {"signals", "start", "end"} <= set(re.findall(r"^(\w+) =", code_cells[0].source, re.M))
    for cell in code_cells:
        assert not re.search(r"(?i)\bselect\b|sqlalchemy|text\(|\.execute\(", cell.source), cell.source


def test_notebook_runs_headless_with_papermill_for_the_chosen_signals_and_range(tmp_path, target_engine):
    output = tmp_path / "explore.ipynb"
    parameters = {"signals": ["power_mean", "power_std"], "start": "2024-10-03", "end": "2024-10-05"}
    execute(NOTEBOOK, output, parameters)
    shown = "".join(
        item.get("text", "") for cell in nbformat.read(output, as_version=4).cells for item in cell.get("outputs", [])
    )
    assert "signals: power_mean, power_std\n" in shown
    wide = read_signals(parameters["signals"], "2024-10-03", "2024-10-05", engine=target_engine)
    assert list(wide.columns) == ["power_mean", "power_std"] and len(wide) > 200
    assert explore.series_table(wide).to_string() in shown
    coverage = signal_coverage("2024-10-03", "2024-10-05", engine=target_engine)
    assert explore.coverage_table(coverage).to_string() in shown
