"""The audit report's tables and figures (etl_lib.reports.audit) of real farm runs: the day's faults in
view on the turbine they happened to, numbers as a reader reads them, and the command that made the report."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from etl_lib.core.contract import BUCKETS_PER_DAY, etl_signal_names
from etl_lib.pipeline.run import run_etl
from etl_lib.reports import audit, present

SATURATED = 3276.7  # kW: WT01's 2024-10-06 09:10 fault (docs/quality.md)


@pytest.fixture(scope="module")
def fault_day(settings):
    return run_etl("2024-10-06", settings)  # WT01 saturated 09:10-09:13, WT03 derated to 600 kW 12:00-13:30


@pytest.fixture(scope="module")
def first_day(settings):
    return run_etl("2024-10-01", settings)  # WT01 nulls, WT02 a spike, WT03 a 35-minute gap, WT04 wind spikes


@pytest.fixture(scope="module")
def clean_day(settings):
    return run_etl("2024-10-05", settings)


def test_the_farm_table_puts_each_fault_on_its_turbine(fault_day):
    table = audit.farm_table(fault_day)
    assert list(table.index) == ["WT01", "WT02", "WT03", "WT04"]
    assert table.loc["WT03", "model"] == "E-82/2000" and table.loc["WT01", "model"] == "V90/2000"
    assert table.loc["WT03", "quality power"] == pytest.approx(1 - 90 / 1440)
    assert table.loc["WT03", "findings"] == "under_performance 90 (power)"
    assert table.loc["WT01", "findings"] == "range 4 (power); spike 4 (power)"
    assert table.loc["WT02", "findings"] == "none" and (table["data availability"] == 1.0).all()
    # The derated turbine made the least, and lost it to performance (the log does not explain its cap).
    kpis = audit.kpi_table(fault_day)
    assert list(kpis.index) == ["WT01", "WT02", "WT03", "WT04", "farm"]
    assert kpis["produced (MWh)"].drop(index="farm").idxmin() == "WT03"
    losses = audit.loss_table(fault_day)
    assert losses["performance"].drop(index="farm").idxmax() == "WT03"
    produced = kpis["produced (MWh)"].drop(index="farm").sum()
    assert kpis.loc["farm", "produced (MWh)"] == pytest.approx(produced, abs=0.005)
    assert (kpis["lost (MWh)"] - losses.sum(axis=1)).abs().max() < 0.005  # the causes add up to the loss
    text = present.text(table)
    assert "93.75%" in text and "99.72%" in text


def test_the_checks_table_counts_the_farm_and_names_the_turbines(fault_day):
    table = audit.checks_table(fault_day)
    assert table.loc["range", "power"] == 4 and table.loc["range", "turbines"] == "WT01"
    assert table.loc["under_performance", "power"] == 90 and table.loc["under_performance", "turbines"] == "WT03"
    assert table.loc["gap", "turbines"] == "" and table.loc["gap", "power"] == 0
    assert "1.1 × rated" in table.loc["range", "threshold"]


def test_what_was_fetched_shows_the_gap_and_the_nulls_per_turbine(first_day):
    table = audit.fetched_table(first_day)
    assert table.loc["WT03", "samples"] == 1440 - 35 and table.loc["WT01", "samples"] == 1440
    assert table.loc["WT01", "nulls wind_speed"] == 3 and table.loc["WT01", "nulls power"] == 1
    assert table.loc["WT02", "nulls power"] == 0 and (table["not finite"] == 0).all()


def test_the_written_table_reads_the_target_back_per_turbine(first_day, settings):
    table = audit.written_table(first_day, settings)
    complete = BUCKETS_PER_DAY * len(etl_signal_names())
    assert table.loc["WT01", "rows"] == complete
    # WT03's three buckets without a sample hold their count and quality, not the other statistics.
    statistics = len([name for name in etl_signal_names() if not name.endswith(("_count", "_quality"))])
    assert table.loc["WT03", "rows"] == complete - 3 * statistics
    assert (table["first"] == "00:00").all() and (table["last"] == "23:50").all()


def test_the_statistics_table_shows_the_imperfect_buckets_not_the_first_ones(fault_day, clean_day):
    table = audit.statistics_table(audit.turbine_day(fault_day, "WT01"))
    assert list(table.index) == ["09:10"]
    assert table.loc["09:10", ("power", "max")] == SATURATED
    assert list(table.columns.get_level_values("statistic")[:6]) == ["mean", "min", "max", "std", "count", "quality"]
    derated = audit.statistics_table(audit.turbine_day(fault_day, "WT03"))
    assert list(derated.index) == [f"{h:02d}:{m}0" for h in (12, 13) for m in range(6)][:9]
    assert (derated[("power", "count")] == 10).all() and derated[("power", "count")].dtype.name == "Int64"
    assert audit.statistics_table(audit.turbine_day(clean_day, "WT02")).empty
    assert present.text(audit.statistics_table(audit.turbine_day(clean_day, "WT02"))).endswith(audit.PERFECT_DAY)


@pytest.mark.parametrize(("day", "turbine"), [("2024-10-01", "WT04"), ("2024-10-06", "WT03")])
def test_the_power_curve_table_has_the_model_curve_in_every_bin(settings, day, turbine):
    """A bin without good samples (the derating at 16-20 m/s) still shows what the model's curve expects there."""
    table = audit.power_curve_table(audit.turbine_day(run_etl(day, settings), turbine))
    assert table.filter(like="curve ").notna().all().all(), table
    assert table["mean power (all)"].notna().all()


def test_the_power_curve_table_shows_the_derating_against_the_model(fault_day):
    table = audit.power_curve_table(audit.turbine_day(fault_day, "WT03"))
    assert table.loc["16–18", "normal operation"] == 0 and table.loc["16–18", "curve E-82/2000"] == 2050.0
    assert table.loc["16–18", "mean power (all)"] == pytest.approx(600, abs=5)
    assert table["flagged by a power-curve check"].sum() == 90


def test_the_turbine_sections_put_the_lowest_quality_first_and_name_the_clean_ones(fault_day, clean_day):
    sections = audit.turbine_sections(fault_day).sections
    assert [s.heading for s in sections] == ["WT03 (E-82/2000)", "WT01 (V90/2000)", "Without findings"]
    assert not sections[0].folded and sections[1].folded
    assert "WT02, WT04" in sections[-1].summary
    assert "under_performance 90 (power)" in sections[0].summary
    shown = repr(audit.turbine_sections(fault_day))
    assert present.text(audit.flagged_stretches(audit.turbine_day(fault_day, "WT01"))) in shown
    assert "[figure: WT03 power]" in shown
    html = audit.turbine_sections(fault_day)._repr_html_()
    assert html.count("<details") == 3 and html.count("data:image/png;base64,") == 2
    assert [s.heading for s in audit.turbine_sections(clean_day).sections] == ["Without findings"]


def test_the_quality_map_is_a_row_per_turbine_and_a_column_per_bucket(fault_day):
    ax = audit.quality_heatmap_figure(fault_day).axes[0]
    image = ax.get_images()[0].get_array()
    assert image.shape == (4, BUCKETS_PER_DAY)
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["WT01", "WT02", "WT03", "WT04"]
    derated = slice(12 * 6, 12 * 6 + 9)  # 12:00 to 13:20
    assert (image[2, derated] == 0).all() and (image[1] == 1).all()


def legends_and_axes(fig):
    renderer = FigureCanvasAgg(fig).get_renderer()
    return [
        (ax, ax.get_window_extent(renderer), ax.get_legend().get_window_extent(renderer))
        for ax in fig.axes
        if ax.get_legend()
    ]


def marked_at(ax, value: float) -> list:
    """The marker lines of ``ax`` that draw a point at ``value`` (y)."""
    return [
        line for line in ax.get_lines() if line.get_linestyle() == "None" and np.isclose(line.get_ydata(), value).any()
    ]


@pytest.mark.parametrize("name", ["day_figure", "farm_power_curve_figure", "farm_figure"])
def test_the_saturated_readings_are_drawn_on_top_and_no_legend_covers_them(fault_day, name):
    if name == "day_figure":
        fig = audit.day_figure(audit.turbine_day(fault_day, "WT01"), audit.bucket_edges(fault_day))
    else:
        fig = getattr(audit, name)(fault_day)
    panels = legends_and_axes(fig)
    assert panels
    for _, axes, legend in panels:
        assert legend.x0 >= axes.x1  # beside the plot, never on it
    power = next(
        ax for ax in fig.axes if "WT01" in ax.get_title(loc="left") or "power curves" in ax.get_title(loc="left")
    )
    _low, high = power.get_ylim()
    assert high > SATURATED  # in view
    marked = marked_at(power, SATURATED)
    others = [line for line in power.get_lines() if line not in marked]
    assert marked and all(
        m.get_zorder() > line.get_zorder() for m in marked for line in others if line.get_linestyle() != "None"
    )
    if name == "day_figure":
        levels = {round(line.get_ydata()[0], 1) for line in power.get_lines() if len(set(line.get_ydata())) == 1}
        assert {2000.0, 2200.0} <= levels  # rated power, and the range limit the readings crossed


def test_the_farm_figure_has_a_panel_per_turbine_titled_with_model_and_quality(fault_day):
    figure = audit.farm_figure(fault_day)
    titles = [ax.get_title(loc="left") for ax in figure.axes]
    corners = {(round(ax.get_position().x0, 3), round(ax.get_position().y0, 3)) for ax in figure.axes}
    assert len({x for x, _ in corners}) == 2 and len({y for _, y in corners}) == 2  # small multiples in a grid
    assert titles == [
        "WT01 (V90/2000): quality 99.7%",
        "WT02 (V90/2000): quality 100.0%",
        "WT03 (E-82/2000): quality 93.8%",
        "WT04 (E-82/2000): quality 100.0%",
    ]


def test_the_endpoints_show_the_target_decoded(fault_day, settings):
    shown = present.text(audit.endpoints(settings))
    assert "%2F" not in shown and "host=/" in shown
