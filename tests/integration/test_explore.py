"""The query helpers and the exploration notebook, against the session's real target."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from sqlalchemy import text

from etl_lib.config.settings import PROJECT_ROOT
from etl_lib.core.contract import MIN_GOOD_SHARE, etl_signal_names
from etl_lib.core.errors import QueryError
from etl_lib.core.turbines import catalogue
from etl_lib.notebook.runner import execute
from etl_lib.reports import explore, present
from etl_lib.storage.query import (
    available_signals,
    available_turbines,
    check_signals,
    check_turbines,
    read_signals,
    signal_coverage,
    turbine_models,
)

NOTEBOOK = PROJECT_ROOT / "notebooks" / "explore.ipynb"


def sql_counts(engine, start: str, end: str) -> pd.DataFrame:
    query = text(
        "SELECT t.name AS turbine, s.name AS signal, count(d.timestamp) AS rows, min(d.timestamp) AS first, "
        "max(d.timestamp) AS last FROM signal s JOIN turbine t ON t.id = s.turbine_id "
        "LEFT JOIN data d ON d.signal_id = s.id AND d.timestamp >= :a AND d.timestamp < :b "
        "GROUP BY t.name, s.name ORDER BY t.name, s.name"
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query, {"a": start, "b": end}).mappings().all())
    return frame.set_index(["turbine", "signal"])


def test_signal_coverage_agrees_with_sql_over_whole_days(target_engine):
    coverage = signal_coverage("2024-10-02", "2024-10-04", engine=target_engine)
    expected = sql_counts(target_engine, "2024-10-02T00:00Z", "2024-10-04T00:00Z")
    assert list(coverage.index) == list(expected.index)
    assert (
        list(coverage.index.unique("turbine"))
        == available_turbines(engine=target_engine)
        == ["WT01", "WT02", "WT03", "WT04"]
    )
    assert sorted(coverage.index.unique("signal")) == available_signals(engine=target_engine)
    assert (coverage["rows"] == expected["rows"]).all()
    assert (coverage["expected"] == 288).all()
    assert np.allclose(coverage["coverage"], expected["rows"] / 288)
    for end in ("first", "last"):  # NaT where a signal has no value in the range (the sparse good_* statistics)
        found, wanted = coverage[end], pd.to_datetime(expected[end], utc=True)
        assert ((found == wanted) | (found.isna() & wanted.isna())).all()
    assert (coverage.xs("power_mean", level="signal")["rows"] == 288).all()


def test_signal_coverage_counts_the_buckets_that_start_in_a_partial_range(target_engine):
    # [06:05, 07:00) holds the buckets 06:10 ... 06:50: five, not the six a plain division gives.
    coverage = signal_coverage("2024-10-03T06:05", "2024-10-03T07:00", engine=target_engine)
    expected = sql_counts(target_engine, "2024-10-03T06:05Z", "2024-10-03T07:00Z")
    assert (coverage["expected"] == 5).all()
    assert (coverage["rows"] == expected["rows"]).all()


def test_signal_coverage_lists_every_signal_even_without_values(target_engine):
    coverage = signal_coverage("2023-01-01", "2023-01-02", engine=target_engine, turbines=["WT02"])
    assert list(coverage.index.unique("turbine")) == ["WT02"]
    assert set(etl_signal_names()) <= set(coverage.index.unique("signal"))
    assert (coverage["rows"] == 0).all() and (coverage["coverage"] == 0).all()
    assert coverage["first"].isna().all()
    table = explore.coverage_table(coverage)
    assert list(table.index) == ["WT02"] and (table["first"] == "").all() and (table["power_mean"] == 0).all()


def test_coverage_table_is_a_row_per_turbine_with_the_share_of_each_signal(target_engine):
    # WT03's logger was out on 2024-10-01 from 13:20 for 35 minutes: three buckets without statistics,
    # their quality (0) still written.
    coverage = signal_coverage("2024-10-01", "2024-10-02", engine=target_engine)
    table = explore.coverage_table(coverage)
    assert list(table.index) == ["WT01", "WT02", "WT03", "WT04"]
    assert table.loc["WT03", "power_mean"] == pytest.approx(141 / 144)
    assert table.loc["WT03", "power_quality"] == 1.0 and table.loc["WT01", "power_mean"] == 1.0
    assert (table.loc["WT03", "first"], table.loc["WT03", "last"]) == ("2024-10-01 00:00", "2024-10-01 23:50")
    assert "99.79%" not in present.text(table) and "97.92%" in present.text(table)


def test_require_values_names_the_empty_signals_turbine_by_turbine_and_the_range(target_engine):
    explore.require_values(signal_coverage("2024-10-02", "2024-10-03", engine=target_engine), ["power_mean"])
    with pytest.raises(QueryError) as error:
        explore.require_values(signal_coverage("2023-01-01", "2023-01-02", engine=target_engine), ["power_mean"])
    assert "no values in [2023-01-01 00:00, 2023-01-02 00:00) UTC of WT01: power_mean; WT02: power_mean" in (
        error.value.problem
    )
    assert "etl run 2023-01-01" in error.value.fix
    # Only WT03 is empty during its logger outage: the error names it, not the others.
    with pytest.raises(QueryError) as error:
        outage = signal_coverage("2024-10-01T13:20", "2024-10-01T13:50", engine=target_engine)
        explore.require_values(outage, ["power_mean", "power_quality"])
    assert error.value.problem.endswith("UTC of WT03: power_mean.") and "WT01" not in error.value.problem


def test_open_range_refuses_an_unknown_turbine_and_lists_the_farm(target_engine):
    with pytest.raises(QueryError) as error:
        explore.open_range(None, "2024-10-01", "2024-10-02", engine=target_engine, turbines=["WT02", "WT9"])
    assert "turbine(s) 'WT9'" in error.value.problem and "WT01, WT02, WT03, WT04" in error.value.fix
    assert check_turbines("WT03", engine=target_engine) == ["WT03"]  # papermill -p turbines WT03
    exploration = explore.open_range(["power_mean"], "2024-10-01", "2024-10-02", engine=target_engine, turbines="WT03")
    assert exploration.turbines == ["WT03"] and exploration.models["WT03"].name == "E-82/2000"
    assert list(exploration.read(["power_mean"]).columns) == [("WT03", "power_mean")]


def test_check_signals_names_the_unknown_ones_and_lists_the_valid_ones(target_engine):
    assert check_signals(["power_mean"], engine=target_engine) == ["power_mean"]
    assert check_signals("power_std", engine=target_engine) == ["power_std"]  # papermill -p signals power_std
    with pytest.raises(QueryError) as error:
        check_signals(["power_mean", "power_avg"], engine=target_engine)
    assert "'power_avg'" in error.value.problem and "'power_mean'" not in error.value.problem
    assert "power_mean" in error.value.fix and "wind_speed_std" in error.value.fix


def test_power_curve_of_the_target_agrees_with_sql(target_engine):
    means = read_signals(["wind_speed_mean", "power_mean"], "2024-10-01", "2024-10-11", engine=target_engine)
    curve = explore.power_curve(explore.one_turbine(means, "WT02"))
    query = text(
        "SELECT floor(w.value / 0.5) * 0.5 AS bin, count(*) AS n, avg(p.value) AS power "
        "FROM turbine t JOIN signal sw ON sw.turbine_id = t.id AND sw.name = 'wind_speed_mean' "
        "JOIN signal sp ON sp.turbine_id = t.id AND sp.name = 'power_mean' "
        "JOIN data w ON w.signal_id = sw.id JOIN data p ON p.signal_id = sp.id AND p.timestamp = w.timestamp "
        "WHERE t.name = 'WT02' AND w.timestamp >= '2024-10-01T00:00Z' AND w.timestamp < '2024-10-11T00:00Z' "
        "GROUP BY 1 ORDER BY 1"
    )
    with target_engine.connect() as conn:
        rows = conn.execute(query).all()
    assert len(rows) == len(curve) > 20
    assert curve["buckets"].tolist() == [n for _, n, _ in rows]
    assert np.allclose(curve["power"], [round(p, 2) for _, _, p in rows], atol=0.006)


def test_daily_quality_of_the_target_finds_the_seeded_faults_on_their_turbine_and_day(target_engine):
    exploration = explore.open_range(None, "2024-10-01", "2024-10-11", engine=target_engine)
    quality = explore.read_quality(exploration)
    assert set(quality.columns.get_level_values("signal")) == {"wind_speed_quality", "power_quality"}
    lowest = explore.lowest_daily_quality(explore.daily_quality(quality))
    below = {
        (turbine, day) for turbine, row in lowest.iterrows() for day, share in row.items() if share < MIN_GOOD_SHARE
    }
    assert below == {("WT03", "2024-10-06")}  # the 90 minutes of derating: 93.75 %
    assert lowest.loc["WT03", "2024-10-06"] == pytest.approx(1 - 90 / 1440)
    assert lowest.loc["WT02", "2024-10-03"] < 1.0 and lowest.loc["WT04", "2024-10-05"] == 1.0


def test_notebook_runs_headless_with_papermill_for_the_chosen_signals_and_range(tmp_path, target_engine):
    output = tmp_path / "explore.ipynb"
    parameters = {
        "turbines": ["WT02", "WT03"],
        "signals": ["power_mean", "power_std"],
        "start": "2024-10-03",
        "end": "2024-10-05",
    }
    execute(NOTEBOOK, output, parameters)
    shown = "\n".join(
        item.get("text", "") + item.get("data", {}).get("text/plain", "")
        for cell in nbformat.read(output, as_version=4).cells
        for item in cell.get("outputs", [])
    )
    assert re.search(r"^signals +power_mean, power_std$", shown, re.M)
    assert re.search(r"^turbines +WT02 \(V90/2000\), WT03 \(E-82/2000\)$", shown, re.M)
    wide = read_signals(
        parameters["signals"], "2024-10-03", "2024-10-05", engine=target_engine, turbines=["WT02", "WT03"]
    )
    assert (
        list(wide.columns)
        == [("WT02", "power_mean"), ("WT02", "power_std"), ("WT03", "power_mean"), ("WT03", "power_std")]
        and len(wide) > 200
    )
    coverage = signal_coverage("2024-10-03", "2024-10-05", engine=target_engine, turbines=["WT02", "WT03"])
    assert present.text(explore.series_table(wide)) in shown  # the tables as the notebook shows them
    assert present.text(explore.coverage_table(coverage)) in shown


def test_the_power_curve_of_good_buckets_is_not_bent_by_the_seeded_faults(target_engine):
    """WT02's anemometer stuck at about 4 m/s lifts its 4-4.5 m/s bin, WT03's derating to 600 kW drags its
    13-14.5 m/s bins down, when every bucket counts; their good buckets follow their models' curves."""
    exploration = explore.open_range(None, "2024-10-01", "2024-10-11", engine=target_engine)
    wide = explore.read_power_curve(exploration)
    stuck = explore.power_curves(explore.one_turbine(wide, "WT02"), exploration.models["WT02"]).loc["4.0–4.5"]
    derated = explore.power_curves(explore.one_turbine(wide, "WT03"), exploration.models["WT03"])
    assert stuck["power"] > 1.2 * stuck["model_power"]
    assert stuck["power (good)"] == pytest.approx(stuck["model_power"], rel=0.1)
    for bin_ in ("13.0–13.5", "14.0–14.5"):
        assert derated.loc[bin_, "power"] < 0.9 * derated.loc[bin_, "model_power"]
        assert derated.loc[bin_, "power (good)"] == pytest.approx(derated.loc[bin_, "model_power"], rel=0.03)
    assert (derated["good buckets"] <= derated["buckets"]).all()
    summary = explore.power_curve_summary(wide, exploration.models)
    assert summary.loc["WT03", "model"] == "E-82/2000" and summary.loc["WT01", "model"] == "V90/2000"
    assert summary.loc["WT03", "buckets"] == 1437  # three buckets of the logger outage hold no means
    assert summary.loc["WT03", "off the curve, all (kW)"] > 1.5 * summary.loc["WT03", "off the curve, good (kW)"]
    sections = explore.power_curve_sections(wide, exploration.models)
    assert [section.heading for section in sections.sections] == [
        "WT01 (V90/2000)",
        "WT02 (V90/2000)",
        "WT03 (E-82/2000)",
        "WT04 (E-82/2000)",
    ]
    assert present.text(derated) in repr(sections)


def test_turbine_models_come_from_the_target(target_engine):
    models = turbine_models(engine=target_engine)
    assert {name: model.name for name, model in models.items()} == {
        "WT01": "V90/2000",
        "WT02": "V90/2000",
        "WT03": "E-82/2000",
        "WT04": "E-82/2000",
    }
    assert models["WT03"].power(10.0) == catalogue()["E-82/2000"].power(10.0)
    assert list(turbine_models(["WT04"], engine=target_engine)) == ["WT04"]


def test_daily_quality_is_drawn_on_a_scale_that_shows_the_difference(target_engine):
    exploration = explore.open_range(None, "2024-10-01", "2024-10-11", engine=target_engine)
    fig = explore.daily_quality_figure(explore.daily_quality(explore.read_quality(exploration)))
    ax = fig.axes[0]
    image = ax.get_images()[0]
    assert image.get_array().shape == (4, 10)  # turbine by day
    norm = image.norm
    assert norm.vcenter == MIN_GOOD_SHARE and norm.vmax == 1.0
    assert 0.9 < norm.vmin <= 1 - 90 / 1440  # not 0..1: 93 % and 97 % look different
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["WT01", "WT02", "WT03", "WT04"]
    assert "93.8%" in {text.get_text() for text in ax.texts}


def test_many_turbines_are_drawn_as_the_median_and_the_range(target_engine):
    index = pd.date_range("2024-10-01", periods=6, freq="10min", tz="UTC")
    columns = pd.MultiIndex.from_product(
        [[f"T{n:02d}" for n in range(explore.SMALL_MULTIPLES + 1)], ["power_mean"]], names=["turbine", "signal"]
    )
    wide = pd.DataFrame(np.arange(6 * len(columns), dtype=float).reshape(6, -1), index, columns)
    labels = explore.series_figure(wide).axes[0].get_legend_handles_labels()[1]
    assert sorted(labels) == ["lowest to highest turbine", "median turbine"]
    few = explore.series_figure(wide.iloc[:, :3]).axes[0].get_legend_handles_labels()[1]
    assert few == ["T00", "T01", "T02"]


def test_a_one_day_range_is_labelled_by_the_hour(target_engine):
    fig = explore.series_figure(
        read_signals(["power_mean"], "2024-10-03", "2024-10-04", engine=target_engine, turbines=["WT01"])
    )
    FigureCanvasAgg(fig).draw()
    labels = [tick.get_text() for tick in fig.axes[-1].get_xticklabels()]
    assert "12:00" in labels and len(set(labels)) == len(labels), labels
