"""The exploration's pure helpers: time ranges, the method of bins, daily quality, good buckets, and the
notebook's contract. (Against the real target: tests/integration/test_explore.py.)"""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pandas as pd
import pytest

from etl_lib.config.settings import PROJECT_ROOT
from etl_lib.core.errors import QueryError
from etl_lib.core.turbines import catalogue
from etl_lib.reports import explore
from etl_lib.storage.query import (
    time_range,
)

NOTEBOOK = PROJECT_ROOT / "notebooks" / "explore.ipynb"


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
    assert curve["model_power"].isna().all()  # no model: nothing to compare with
    model = catalogue()["E-82/2000"]
    with_model = explore.power_curve(wide, model=model)
    assert with_model["model_power"].tolist() == [round(float(model.power(v)), 2) for v in (3.25, 7.9)]


def test_daily_quality_is_the_mean_share_per_turbine_variable_and_day_in_variable_order():
    index = pd.date_range("2024-10-01T23:40", periods=4, freq="10min", tz="UTC")
    columns = pd.MultiIndex.from_tuples(
        [
            ("WT01", "power_quality"),
            ("WT01", "wind_speed_quality"),
            ("WT02", "power_quality"),
            ("WT02", "wind_speed_quality"),
        ],
        names=["turbine", "signal"],
    )
    quality = pd.DataFrame(
        [[1.0, 0.2, 1.0, 1.0], [0.5, 0.4, 1.0, 1.0], [1.0, 0.9, 0.0, 1.0], [1.0, np.nan, 1.0, 1.0]], index, columns
    )
    table = explore.daily_quality(quality)
    assert list(table.index) == [("WT01", "wind_speed"), ("WT01", "power"), ("WT02", "wind_speed"), ("WT02", "power")]
    assert list(table.columns) == ["2024-10-01", "2024-10-02"]
    assert table.to_dict("index") == {
        ("WT01", "wind_speed"): {"2024-10-01": 0.3, "2024-10-02": 0.9},
        ("WT01", "power"): {"2024-10-01": 0.75, "2024-10-02": 1.0},
        ("WT02", "wind_speed"): {"2024-10-01": 1.0, "2024-10-02": 1.0},
        ("WT02", "power"): {"2024-10-01": 1.0, "2024-10-02": 0.5},
    }
    lowest = explore.lowest_daily_quality(table)
    assert lowest.to_dict("index") == {
        "WT01": {"2024-10-01": 0.3, "2024-10-02": 0.9},
        "WT02": {"2024-10-01": 1.0, "2024-10-02": 0.5},
    }


def test_notebook_reads_through_etl_lib_and_has_a_parameters_cell_first():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "parameters" in code_cells[0].metadata.get("tags", [])
    assert {"turbines", "signals", "start", "end"} <= set(re.findall(r"^(\w+) =", code_cells[0].source, re.M))
    for cell in code_cells:
        assert not re.search(r"(?i)\bselect\b|sqlalchemy|text\(|\.execute\(", cell.source), cell.source


def test_good_buckets_need_quality_1_for_both_wind_speed_and_power():
    index = pd.date_range("2024-10-01", periods=4, freq="10min", tz="UTC")
    wide = pd.DataFrame(
        {
            "wind_speed_mean": [4.6, 4.7, 14.0, 14.2],
            "power_mean": [90.0, 264.0, 600.0, 2000.0],
            "wind_speed_quality": [1.0, 0.0, 1.0, 1.0],
            "power_quality": [1.0, 1.0, 0.0, 1.0],
        },
        index,
    )
    assert list(explore.good_buckets(wide).index) == [index[0], index[3]]
    assert explore.good_buckets(wide[explore.MEANS]).equals(wide[explore.MEANS])  # no quality signals: all
