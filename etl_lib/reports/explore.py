"""What the exploration notebook (``notebooks/explore.ipynb``) shows, from what the target holds.

``open_range`` checks the notebook's parameters (turbines, signals, ``[start, end)``) against the
target and returns an ``Exploration``; every other helper takes it (or a frame read through
``storage.query``: one column per ``(turbine, signal)``) and returns a DataFrame or a matplotlib
``Figure``, read as ``present`` says. Numbers are rounded so nbval can compare them; the figures are
drawn from the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from sqlalchemy import Engine

from ..config.settings import Settings, get_settings
from ..core.contract import (
    FULL_PERFORMANCE_SIGNAL,
    MIN_GOOD_SHARE,
    UNITS,
    quality_signal_names,
    split_signal_name,
    statistic_signal_names,
)
from ..core.errors import QueryError
from ..core.turbines import TurbineModel
from ..metrics.power_curve import bin_label, bin_starts, mean_deviation
from ..metrics.quality import daily_mean
from ..storage.engines import target_engine
from ..storage.query import (
    available_turbines,
    check_signals,
    check_turbines,
    read_signals,
    signal_coverage,
    time_range,
    turbine_models,
)
from . import present

DECIMALS = 4
QUALITY_SUFFIX = "_quality"
MEANS = ["wind_speed_mean", "power_mean"]
SMALL_MULTIPLES = 12  # turbines drawn one line (or panel) each; more: the farm's median and range
ANNOTATED_CELLS = 400  # a quality map with at most this many cells shows each cell's share


def _stamp(value: pd.Timestamp) -> str:
    return "" if pd.isna(value) else value.strftime("%Y-%m-%d %H:%M")


@dataclass
class Exploration:
    """The range ``[first, last)``, the turbines and the signals chosen, checked against the target,
    and each turbine's model (None when the target was never told it)."""

    first: pd.Timestamp
    last: pd.Timestamp
    turbines: list[str]
    signals: list[str]
    coverage: pd.DataFrame  # signal_coverage of the range and turbines
    models: dict[str, TurbineModel | None]
    engine: Engine = field(repr=False)

    def read(self, names: list[str]) -> pd.DataFrame:
        """The chosen turbines' values of ``names`` over the range: one column per ``(turbine, signal)``."""
        return read_signals(names, self.first, self.last, engine=self.engine, turbines=self.turbines)


def open_range(
    signals: list[str] | str | None,
    start,
    end,
    settings: Settings | None = None,
    *,
    turbines: list[str] | str | None = None,
    engine: Engine | None = None,
    retired: bool = False,
) -> Exploration:
    """Check the notebook's parameters: the range is valid, the turbines (default: the current farm's;
    with ``retired`` also those that left the source) and signals (default: every 10-minute statistic)
    exist, and each turbine has values of the chosen signals and of the mean wind speed and power in
    the range."""
    engine = engine or target_engine(settings or get_settings())
    first, last = time_range(start, end)
    chosen_turbines = (
        check_turbines(turbines, engine=engine)
        if turbines is not None
        else available_turbines(engine=engine, retired=retired)
    )
    if not chosen_turbines:
        raise QueryError("The target knows no turbines yet.", "Run the ETL first: etl run 2024-10-01 (or make run).")
    chosen = check_signals(signals or statistic_signal_names(), engine=engine)
    coverage = signal_coverage(first, last, engine=engine, turbines=chosen_turbines)
    require_values(coverage, list(dict.fromkeys([*chosen, *MEANS])))
    models = turbine_models(chosen_turbines, engine=engine)
    return Exploration(first, last, chosen_turbines, chosen, coverage, models, engine)


def require_values(coverage: pd.DataFrame, names: list[str]) -> None:
    """An error naming the signals, turbine by turbine, that have no values in the range
    ``signal_coverage`` looked at."""
    rows = coverage["rows"]
    empty: dict[str, list[str]] = {}
    for turbine in coverage.index.unique("turbine"):
        missing = [name for name in names if rows.get((turbine, name), 0) == 0]
        if missing:
            empty[turbine] = missing
    if empty:
        first, last = coverage.attrs["start"], coverage.attrs["end"]
        listed = "; ".join(f"{turbine}: {', '.join(missing)}" for turbine, missing in empty.items())
        raise QueryError(
            f"The target has no values in [{first:%Y-%m-%d %H:%M}, {last:%Y-%m-%d %H:%M}) UTC of {listed}.",
            f"Run the ETL for those days first (etl run {first:%Y-%m-%d}, or a backfill), or pick turbines and a "
            "range where signal_coverage() shows rows.",
        )


def choice_table(exploration: Exploration) -> pd.DataFrame:
    """The range, the turbines (with their models) and the signals shown."""
    models = [f"{name} ({model.name if model else 'model unknown'})" for name, model in exploration.models.items()]
    return pd.DataFrame(
        {
            "chosen": {
                "range (UTC)": f"[{exploration.first:%Y-%m-%d %H:%M}, {exploration.last:%Y-%m-%d %H:%M})",
                "turbines": ", ".join(models),
                "signals": ", ".join(exploration.signals),
            }
        }
    )


def target_url(settings: Settings) -> str:
    """The target the notebook reads, as a person reads it (password hidden, not percent-encoded)."""
    return present.shown_url(settings.target_url)


def one_turbine(wide: pd.DataFrame, turbine: str) -> pd.DataFrame:
    """The columns of ``turbine`` in a wide frame of ``read_signals``, named by signal."""
    return (
        wide.xs(turbine, axis=1, level="turbine")
        if turbine in wide.columns.get_level_values("turbine")
        else pd.DataFrame(index=wide.index)
    )


# --- the 10-minute statistics as time series ----------------------------------------------------------


def series_table(wide: pd.DataFrame) -> pd.DataFrame:
    """Per ``(turbine, signal)`` of a wide frame (``read_signals``): how many values, their span and range."""
    table = pd.DataFrame(
        {
            "values": wide.count(),
            "first": wide.apply(lambda c: _stamp(c.first_valid_index())),
            "last": wide.apply(lambda c: _stamp(c.last_valid_index())),
            "min": wide.min(),
            "mean": wide.mean(),
            "max": wide.max(),
        }
    )
    table = present.rounded(table, DECIMALS)
    table.index.names = ["turbine", "signal"]
    return table


def _shown_statistic(statistics: list[str]) -> str:
    return "mean" if "mean" in statistics else statistics[0]


def series_figure(wide: pd.DataFrame) -> Figure:
    """One panel per variable. One turbine: its 10-minute mean as a line, the min-max band and ±std
    around it when those signals were read, and any other of its signals as lines. Several: each
    turbine's mean (or the statistic read) as a line of its own; beyond ``SMALL_MULTIPLES`` turbines the
    farm's median with the band from the lowest to the highest turbine. Ticks fit the range."""
    turbines = list(dict.fromkeys(wide.columns.get_level_values("turbine")))
    names = list(dict.fromkeys(wide.columns.get_level_values("signal")))
    variables = list(dict.fromkeys(split_signal_name(name)[0] for name in names))
    fig, axes = present.figure(max(len(variables), 1), row_height=2.6, sharex=True)
    for ax, variable in zip(axes, variables):
        statistics = [split_signal_name(n)[1] for n in names if split_signal_name(n)[0] == variable]
        if len(turbines) == 1:
            _one_turbine_panel(ax, variable, one_turbine(wide, turbines[0]))
            heading = f"{turbines[0]}: {variable.replace('_', ' ')}, 10-minute statistics (UTC)"
        else:
            statistic = _shown_statistic(statistics)
            name = f"{variable}_{statistic}" if statistic else variable
            values = wide.xs(name, axis=1, level="signal")
            if len(turbines) <= SMALL_MULTIPLES:
                for turbine in values.columns:
                    ax.plot(values.index, values[turbine], lw=0.8, label=turbine)
            else:
                ax.fill_between(
                    values.index,
                    values.min(axis=1),
                    values.max(axis=1),
                    color="tab:blue",
                    alpha=0.2,
                    lw=0,
                    label="lowest to highest turbine",
                )
                ax.plot(values.index, values.median(axis=1), color="tab:blue", lw=0.9, label="median turbine")
            heading = f"{variable.replace('_', ' ')}, 10-minute {statistic or 'value'} per turbine (UTC)"
        present.title(ax, heading)
        ax.set_ylabel(UNITS.get(variable, ""))
        present.legend_outside(ax)
    if len(wide.index):
        axes[-1].set_xlim(wide.index.min(), wide.index.max())
    present.time_axis(axes[-1])
    present.same_x(axes)
    return fig


def _one_turbine_panel(ax, variable: str, signals: pd.DataFrame) -> None:
    columns = {split_signal_name(n)[1]: signals[n] for n in signals.columns if split_signal_name(n)[0] == variable}
    index = signals.index
    if "min" in columns and "max" in columns:
        ax.fill_between(
            index, columns["min"], columns["max"], color="tab:blue", alpha=0.15, lw=0, label="10-min min–max"
        )
    if "mean" in columns and "std" in columns:
        ax.fill_between(
            index,
            columns["mean"] - columns["std"],
            columns["mean"] + columns["std"],
            color="tab:blue",
            alpha=0.3,
            lw=0,
            label="mean ± std",
        )
    for statistic, series in columns.items():
        if statistic == "mean":
            ax.plot(series.index, series, color="tab:blue", lw=0.9, label="10-min mean")
        elif statistic not in ("min", "max") and not (statistic == "std" and "mean" in columns):
            ax.plot(series.index, series, lw=0.9, label=f"{variable}_{statistic}" if statistic else variable)


# --- data quality, day by day ------------------------------------------------------------------------


def read_quality(exploration: Exploration) -> pd.DataFrame:
    """The ``<variable>_quality`` signals of the chosen turbines over the range (wide)."""
    return exploration.read(quality_signal_names())


def daily_quality(quality: pd.DataFrame) -> pd.DataFrame:
    """Per turbine and variable (the ETL's order), day by day (UTC): the mean share of good samples over
    the day's buckets in the target (0 to 1; 100 % is a clean day). Days below ``MIN_GOOD_SHARE``, the
    threshold of Dagster's quality check, are highlighted."""
    shares = daily_mean(quality).T
    order = {name: position for position, name in enumerate(quality_signal_names())}
    shares = shares.sort_index(
        key=lambda level: level.map(lambda name: order.get(name, len(order))) if level.name == "signal" else level
    )
    shares.index = pd.MultiIndex.from_tuples(
        [(turbine, name.removesuffix(QUALITY_SUFFIX)) for turbine, name in shares.index], names=["turbine", "variable"]
    )
    shares.columns = [day.strftime("%Y-%m-%d") for day in shares.columns]
    shares.columns.name = "day (UTC)"
    return present.table(
        present.rounded(shares, DECIMALS + 2),
        percent=list(shares.columns),
        warn_below=dict.fromkeys(shares.columns, MIN_GOOD_SHARE),
        empty="The target has no quality signals in this range.",
        caption="Mean quality per day: the share of the expected samples that are good",
    )


def lowest_daily_quality(table: pd.DataFrame) -> pd.DataFrame:
    """Of ``daily_quality``: per turbine and day, the lowest of its variables."""
    return present.table(table.groupby(level="turbine", sort=False).min(), percent=list(table.columns))


def daily_quality_figure(table: pd.DataFrame) -> Figure:
    """A map turbine by day of the lowest variable's daily quality (``daily_quality``): green at 100 %,
    white at the threshold ``MIN_GOOD_SHARE``, red below it, on a scale that starts at the worst day
    (not at 0, so 93 % and 97 % look different); each cell shows its share while they fit."""
    lowest = lowest_daily_quality(table)
    values = lowest.to_numpy(dtype=float)
    worst = float(np.nanmin(values)) if np.isfinite(values).any() else MIN_GOOD_SHARE
    norm = TwoSlopeNorm(vcenter=MIN_GOOD_SHARE, vmin=min(worst, MIN_GOOD_SHARE - 0.01), vmax=1.0)
    rows, columns = values.shape
    fig, (ax,) = present.figure(1, row_height=0.4 + 0.3 * rows, legend=False)
    image = ax.imshow(values, aspect="auto", cmap="RdYlGn", norm=norm, interpolation="nearest")
    ax.grid(False)
    ax.set_yticks(range(rows), list(lowest.index), fontsize="small")
    ax.set_xticks(range(columns), [day[5:] for day in lowest.columns], fontsize="small")
    if values.size <= ANNOTATED_CELLS:
        for (row, column), share in np.ndenumerate(values):
            if np.isfinite(share):
                ax.text(column, row, f"{share:.1%}", ha="center", va="center", fontsize="x-small")
    present.title(ax, f"Daily quality per turbine (the lower variable; white at the {MIN_GOOD_SHARE:.0%} threshold)")
    colorbar = fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03, format=PercentFormatter(1.0))
    colorbar.ax.tick_params(labelsize="x-small")
    return fig


# --- the measured power curves ------------------------------------------------------------------------


def power_curve(pairs: pd.DataFrame, bin_width: float = 0.5, model: TurbineModel | None = None) -> pd.DataFrame:
    """One turbine's measured power curve by the method of bins (as in IEC 61400-12-1): 10-minute mean
    power averaged per ``bin_width`` m/s bin of the 10-minute mean wind speed. Rows are bins with at
    least one bucket; ``model_power`` is the ``model``'s curve at the bin's mean speed (NaN without one)."""
    pairs = pairs[MEANS].dropna()
    grouped = pairs.groupby(bin_starts(pairs["wind_speed_mean"], bin_width))
    curve = pd.DataFrame(
        {
            "buckets": grouped.size(),
            "wind_speed": grouped["wind_speed_mean"].mean(),
            "power": grouped["power_mean"].mean(),
            "power_std": grouped["power_mean"].std(),
        }
    )
    curve["model_power"] = model.power(curve["wind_speed"].to_numpy()) if model else np.nan
    curve.index = [bin_label(start, bin_width, digits=1) for start in curve.index]
    curve.index.name = "wind speed bin (m/s)"
    return present.rounded(curve, DECIMALS - 2)


def read_power_curve(exploration: Exploration) -> pd.DataFrame:
    """The chosen turbines' 10-minute means of wind speed and power over the range, with their
    ``<variable>_quality`` signals (``good_buckets`` needs them)."""
    return exploration.read([*MEANS, *quality_signal_names(), FULL_PERFORMANCE_SIGNAL])


def good_buckets(signals: pd.DataFrame) -> pd.DataFrame:
    """Of one turbine's signals: the buckets of normal operation, whose wind speed and power both have quality
    1 (every sample present and passing every check) and, where the target has it, all ten minutes in full
    performance (``power_full_performance``: not a stop or a restriction the status log explains); all
    buckets when it has no quality signals."""
    quality = signals[[name for name in quality_signal_names() if name in signals.columns]]
    if not len(quality.columns):
        return signals
    normal = (quality == 1.0).all(axis=1)
    if FULL_PERFORMANCE_SIGNAL in signals.columns:
        normal &= signals[FULL_PERFORMANCE_SIGNAL].fillna(1.0) == 1.0
    return signals[normal]


def power_curves(signals: pd.DataFrame, model: TurbineModel | None = None, bin_width: float = 0.5) -> pd.DataFrame:
    """One turbine's method of bins over every bucket beside the same over the good buckets only
    (``good_buckets``) and its model's curve: flagged buckets (curtailment, a stuck anemometer) bend the
    first, not the second."""
    raw = power_curve(signals, bin_width, model)
    good = power_curve(good_buckets(signals), bin_width, model)
    table = raw[["buckets", "wind_speed", "power"]].join(
        good[["buckets", "power"]].rename(columns={"buckets": "good buckets", "power": "power (good)"}), how="left"
    )
    table["model_power"] = raw["model_power"]
    table = table.astype({"good buckets": "Int64"})
    return present.table(table, decimals=dict.fromkeys(["wind_speed", "power", "power (good)", "model_power"], 2))


def _deviation(signals: pd.DataFrame, model: TurbineModel | None) -> float:
    """The mean of |10-minute mean power - the model's curve at the 10-minute mean wind speed| (kW)."""
    if not set(MEANS) <= set(signals.columns):
        return float("nan")
    return mean_deviation(signals["wind_speed_mean"], signals["power_mean"], model)


def power_curve_summary(wide: pd.DataFrame, models: dict[str, TurbineModel | None]) -> pd.DataFrame:
    """Per turbine: its model, its buckets and good buckets, and how far its 10-minute means lie from
    the model's curve, over every bucket and over the good ones (mean absolute difference, kW and % of
    rated power). A turbine whose good buckets lie far from its curve underperforms, or runs another model."""
    rows = {}
    for turbine, model in models.items():
        signals = one_turbine(wide, turbine)
        good = good_buckets(signals) if len(signals.columns) else signals
        every, clean = _deviation(signals, model), _deviation(good, model)
        rated = model.rated_power if model else float("nan")
        rows[turbine] = {
            "model": model.name if model else "unknown",
            "buckets": int(signals[MEANS].dropna().shape[0]) if set(MEANS) <= set(signals.columns) else 0,
            "good buckets": int(good[MEANS].dropna().shape[0]) if set(MEANS) <= set(good.columns) else 0,
            "off the curve, all (kW)": every,
            "off the curve, good (kW)": clean,
            "off the curve, good (% of rated)": clean / rated,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "turbine"
    return present.table(
        present.rounded(table, DECIMALS),
        percent=["off the curve, good (% of rated)"],
        decimals={"off the curve, all (kW)": 1, "off the curve, good (kW)": 1},
        caption="Measured power curves against each turbine's model (10-minute means)",
    )


def power_curve_figure(wide: pd.DataFrame, models: dict[str, TurbineModel | None]) -> Figure:
    """A panel per turbine (the first ``SMALL_MULTIPLES``, two side by side): every 10-minute mean as a
    point (the buckets below quality 1 drawn over the good ones), the binned curve of all buckets and of
    the good ones, and its model's curve, up to a little above the highest wind speed."""
    shown = list(models)[:SMALL_MULTIPLES]
    columns = min(2, len(shown))
    fig, axes = present.figure(-(-len(shown) // columns), row_height=2.6, columns=columns, sharex=True)
    winds = wide.xs("wind_speed_mean", axis=1, level="signal").to_numpy(dtype=float) if len(wide) else np.zeros(1)
    top = float(np.nanmax(winds)) + 1.5 if np.isfinite(winds).any() else 25.0
    speeds = np.linspace(0, top, 300)
    for ax, turbine in zip(axes, shown):
        model, signals = models[turbine], one_turbine(wide, turbine)
        good = good_buckets(signals)
        flagged = signals.drop(good.index)
        ax.scatter(
            good["wind_speed_mean"], good["power_mean"], s=4, color="0.6", alpha=0.6, label="good buckets (quality 1)"
        )
        if len(flagged):
            ax.scatter(
                flagged["wind_speed_mean"],
                flagged["power_mean"],
                s=8,
                color="tab:orange",
                zorder=4,
                label="buckets below quality 1",
            )
            raw = power_curve(signals)
            ax.plot(
                raw["wind_speed"],
                raw["power"],
                "o-",
                color="tab:red",
                ms=2.5,
                lw=1,
                alpha=0.8,
                label="binned, all buckets",
            )
        curve = power_curve(good)
        ax.plot(
            curve["wind_speed"],
            curve["power"],
            "o-",
            color="tab:blue",
            ms=3,
            lw=1.3,
            zorder=3,
            label="binned, good buckets",
        )
        if model:
            ax.plot(speeds, model.power(speeds), color="k", lw=1, ls="--", label="the model's curve")
        ax.set_xlim(0, top)
        present.title(ax, f"{turbine} ({model.name if model else 'model unknown'})")
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    for ax in axes[::columns]:
        ax.set_ylabel(f"power ({UNITS['power']})")
    for ax in axes[len(shown) - columns : len(shown)]:  # the last of each column
        ax.tick_params(labelbottom=True)
        ax.set_xlabel(f"wind speed ({UNITS['wind_speed']})")
    present.one_legend(axes[: len(shown)], beside=columns - 1)  # beside the first row's last panel
    return fig


def power_curve_sections(wide: pd.DataFrame, models: dict[str, TurbineModel | None]) -> present.Sections:
    """Each turbine's binned power curve table (``power_curves``), folded, one section per turbine."""
    sections = []
    for turbine, model in models.items():
        signals = one_turbine(wide, turbine)
        if not set(MEANS) <= set(signals.columns):
            continue
        table = power_curves(signals, model)
        sections.append(
            present.Section(
                f"{turbine} ({model.name if model else 'model unknown'})", f"{len(table)} bins of 0.5 m/s", [table]
            )
        )
    return present.Sections(sections, empty="No turbine has 10-minute means of wind speed and power in this range.")


def coverage_table(coverage: pd.DataFrame) -> pd.DataFrame:
    """``signal_coverage`` as shown: a row per turbine, a column per signal with the share of the range's
    10-minute buckets it has a value for (in %), and the turbine's first and last value
    (``YYYY-MM-DD HH:MM``)."""
    shares = coverage["coverage"].unstack("signal")
    table = shares.join(
        pd.DataFrame(
            {
                "first": coverage["first"].groupby(level="turbine").min().map(_stamp),
                "last": coverage["last"].groupby(level="turbine").max().map(_stamp),
            }
        )
    )
    signals = list(shares.columns)
    expected = int(coverage["expected"].iloc[0]) if len(coverage) else 0
    return present.table(
        table,
        percent=signals,
        warn_below=dict.fromkeys(signals, 1.0),
        caption=f"Coverage: the share of the range's {expected} 10-minute buckets with a value",
    )
