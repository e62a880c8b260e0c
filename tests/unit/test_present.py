"""The conventions of every report's tables and figures (etl_lib.reports.present): formatted values,
HTML that is the same on every run, what a notebook displays, and figures that keep the data in view."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from etl_lib.reports import present


def quality_frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "count": [7.0, 10.0, np.nan],  # integral floats, as after a reindex
            "quality": [0.7, 1.0, 0.975694],
            "power": [1.23456, 2.5, -3.0],
            "note": ["a<b", "c", None],
        },
        index=pd.Index(["06:00", "06:40", "13:20"], name="bucket (UTC)"),
    )
    return present.table(frame, percent=["quality"], caption="Buckets", warn_below={"quality": 1.0})


def test_text_shows_integers_percentages_and_missing_values_as_a_reader_expects():
    lines = present.text(quality_frame()).splitlines()
    assert lines[0] == "Buckets"
    assert lines[3].split() == ["06:00", "7", "70.00%", "1.2346", "a<b"]
    assert lines[4].split() == ["06:40", "10", "100.00%", "2.5000", "c"]
    assert lines[5].split() == ["13:20", "—", "97.57%", "-3.0000", "—"]


def test_an_empty_table_says_why_instead():
    empty = present.table(quality_frame().iloc[:0], empty="No bucket below quality 1.")
    assert present.text(empty) == "No bucket below quality 1."
    assert "No bucket below quality 1." in present.html(empty) and "<table" not in present.html(empty)


def test_html_is_the_same_on_every_run_and_in_every_process():
    """A Styler's own uuid is random; the table's id comes from its content, so nbval can compare the HTML."""
    html = present.html(quality_frame())
    assert html == present.html(quality_frame())
    code = "from tests.unit.test_present import quality_frame; from etl_lib.reports import present; print(present.html(quality_frame()))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == html
    changed = quality_frame()
    changed.loc["06:00", "power"] = 9.0
    assert present.html(changed) != html
    assert "\n" not in html  # one line: one item in the notebook's JSON


def test_html_escapes_text_highlights_faults_and_links_dates():
    html = present.html(quality_frame())
    assert "a&lt;b" in html and "a<b" not in html
    assert "70.00%" in html and "Buckets</caption>" in html
    assert html.count(present.WARN_COLOR) == 1  # one CSS rule, for the cells below 1
    runs = present.table(
        pd.DataFrame({"status": ["failed"]}, index=pd.Index(["2024-12-04"], name="date")), links={"date": "{}.html"}
    )
    assert '<a href="2024-12-04.html">2024-12-04</a>' in present.html(runs)


def test_a_notebook_displays_tables_as_html_beside_their_text_and_figures_as_png():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        present.use_in_notebook()
        data, _ = shell.display_formatter.format(quality_frame())
        assert data["text/html"] == present.html(quality_frame())
        assert data["text/plain"] == present.text(quality_frame())
        fig, _ = present.figure(1)
        data, _ = shell.display_formatter.format(fig)
        assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n" and data["image/png"] == present.png(fig)
    finally:
        InteractiveShell.clear_instance()


def test_a_legend_outside_never_covers_the_data():
    fig, (ax,) = present.figure(1)
    ax.plot([0, 1], [0, 3276.7], label="samples")
    present.legend_outside(ax)
    renderer = FigureCanvasAgg(fig).get_renderer()
    legend, axes = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.x0 > axes.x1 and legend.x1 <= fig.bbox.x1


def test_limit_lines_show_levels_near_the_data_and_every_crossed_limit():
    _fig, (ax,) = present.figure(1)
    levels = {"rated power": ("rated", [2000.0]), "range limits": ("limit", [-50.0, 2200.0])}
    present.limit_lines(ax, levels, [0.0, 1500.0])  # a calm day: 2000 and 2200 far above, -50 close below
    assert [line.get_ydata()[0] for line in ax.get_lines()] == [-50.0]
    _fig, (ax,) = present.figure(1)
    present.limit_lines(ax, levels, [0.0, 3276.7], always=["range limits"])
    assert sorted(line.get_ydata()[0] for line in ax.get_lines()) == [-50.0, 2000.0, 2200.0]
    assert sorted(label for label in ax.get_legend_handles_labels()[1]) == ["range limits", "rated power"]


def test_a_share_axis_shows_the_difference_between_93_and_97_percent():
    _fig, (ax,) = present.figure(1)
    ax.plot([0, 1], [0.9347, 0.9722])
    present.share_axis(ax, [0.9347, 0.9722], floor=0.95)
    low, high = ax.get_ylim()
    assert 0.9 < low < 0.9347 and 1.0 < high < 1.01


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [("2024-10-03", "2024-10-04", ["03:00", "12:00"]), ("2024-10-01", "2024-10-11", ["03", "05"])],
)
def test_time_ticks_fit_the_range(start, end, expected):
    fig, (ax,) = present.figure(1)
    days = pd.date_range(start, end, freq="10min", tz="UTC")
    ax.plot(days, np.arange(len(days)))
    ax.set_xlim(days[0], days[-1])
    present.time_axis(ax)
    FigureCanvasAgg(fig).draw()
    labels = [tick.get_text() for tick in ax.get_xticklabels()]
    assert len(set(labels)) == len(labels) > 3, labels  # not every tick "10-03"
    assert all(label in labels for label in expected), labels


def test_urls_are_shown_decoded_with_the_password_hidden():
    shown = present.shown_url("postgresql+psycopg2://etl:s3cret@/target?host=%2Ftmp%2Fwind-etl%2Fpgdata")
    assert shown == "postgresql+psycopg2://etl:***@/target?host=/tmp/wind-etl/pgdata"


def test_daily_values_get_day_ticks_that_name_their_month():
    fig, (ax,) = present.figure(1)
    noon = pd.Timestamp("2024-10-03T12:00Z")
    ax.plot(present.instants([noon]), [0.95], "o")
    ax.set_xlim(present.instants([noon - pd.Timedelta(hours=12), noon + pd.Timedelta(hours=12)]))
    present.time_axis(ax, daily=True)
    FigureCanvasAgg(fig).draw()
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["Oct 03", "Oct 04"]


def test_values_too_large_to_round_are_shown_as_they_are_never_as_infinity():
    """Rounding multiplies by 10 ** decimals: 1e308 rounded to 4 decimals was inf, in the report's tables."""
    frame = pd.DataFrame({"power max (kW)": [1e308, -1.7e308, 1234.56789, np.nan], "n": [1, 2, 3, 4]})
    with np.errstate(all="raise"):
        shown = present.rounded(frame, 4)
    assert shown["power max (kW)"].tolist()[:3] == [1e308, -1.7e308, 1234.5679] and np.isnan(shown.iloc[3, 0])
    assert shown["n"].tolist() == [1, 2, 3, 4]
    assert present.rounded(np.array([1e308, 0.123456]), 2).tolist() == [1e308, 0.12]
    lines = present.text(present.table(shown)).splitlines()
    assert lines[1].split()[1:] == ["1e+308", "1"] and lines[2].split()[1:] == ["-1.7e+308", "2"]
    assert "inf" not in present.text(present.table(shown))


def test_a_figure_keeps_its_axis_and_draws_what_lies_beyond_at_the_edge():
    """An axis stretched to 1e308 flattened the day, and near 1.8e308 matplotlib's transforms overflowed
    (LinAlgError: Singular matrix)."""
    bounds = present.axis_bounds(-50.0, 2200.0)
    assert bounds == (-2300.0, 4450.0)
    values = np.array([100.0, 1.7e308, np.nan, -1e308, 3276.7])
    drawn, beyond = present.drawable(values, bounds)
    assert beyond.tolist() == [False, True, False, True, False]
    assert drawn[[0, 1, 3, 4]].tolist() == [100.0, 4450.0, -2300.0, 3276.7] and np.isnan(drawn[2])
    fig, (ax,) = present.figure(1)
    ax.plot(np.arange(5), drawn)
    present.mark_beyond(ax, np.arange(5), values, beyond, bounds, "kW")
    FigureCanvasAgg(fig).draw()
    low, high = ax.get_ylim()
    assert low > -3000 and high < 5000  # the bounds and a margin, not 1e308
    assert ax.get_legend_handles_labels()[1] == ["beyond the axis (2: 1.7e+308 kW)"]
