"""What the exploration notebook shows: tables as deterministic text and matplotlib figures.

Everything is computed from frames that ``etl_lib.query`` read from the target; numbers are
rounded so nbval can compare them, and the figures are drawn from the same frames.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .errors import QueryError
from .generator import POWER_CURVE
from .report import UNITS
from .target_schema import ETL_VARIABLES, STATISTICS, signal_name

DECIMALS = 4
QUALITY_SUFFIX = "_quality"


def _split(name: str) -> tuple[str, str]:
    """``power_mean`` -> (``power``, ``mean``); a name without a known suffix is its own variable."""
    variable, _, statistic = name.rpartition("_")
    return (variable, statistic) if variable else (name, "")


def _stamp(value: pd.Timestamp) -> str:
    return "" if pd.isna(value) else value.strftime("%Y-%m-%d %H:%M")


def require_values(coverage: pd.DataFrame, names: list[str]) -> None:
    """An error naming the signals that have no values in the range ``signal_coverage`` looked at."""
    empty = [name for name in names if coverage.loc[name, "rows"] == 0]
    if empty:
        first, last = coverage.attrs["start"], coverage.attrs["end"]
        raise QueryError(
            f"The target has no values of {', '.join(empty)} in [{first:%Y-%m-%d %H:%M}, {last:%Y-%m-%d %H:%M}) UTC.",
            f"Run the ETL for those days first (etl run {first:%Y-%m-%d}, or a backfill), or pick a range "
            "where signal_coverage() shows rows.",
        )


def series_table(wide: pd.DataFrame) -> pd.DataFrame:
    """Per signal of a wide frame (``read_signals``): how many values, their span and range."""
    return pd.DataFrame(
        {
            "values": wide.count(),
            "first": wide.apply(lambda c: _stamp(c.first_valid_index())),
            "last": wide.apply(lambda c: _stamp(c.last_valid_index())),
            "min": wide.min(),
            "mean": wide.mean(),
            "max": wide.max(),
        }
    ).round(DECIMALS)


def plot_series(wide: pd.DataFrame) -> list[plt.Figure]:
    """One figure per variable: its 10-minute mean as a line, the min-max band and ±std around it
    when those signals were read, and any other of its signals as lines."""
    figures = []
    variables = dict.fromkeys(_split(name)[0] for name in wide.columns)
    for variable in variables:
        columns = {_split(name)[1]: wide[name] for name in wide.columns if _split(name)[0] == variable}
        fig, ax = plt.subplots(figsize=(11, 3.4), layout="constrained")
        if "min" in columns and "max" in columns:
            ax.fill_between(wide.index, columns["min"], columns["max"], color="tab:blue", alpha=0.15, lw=0,
                            label="10-min min–max")  # fmt: skip
        if "mean" in columns and "std" in columns:
            ax.fill_between(wide.index, columns["mean"] - columns["std"], columns["mean"] + columns["std"],
                            color="tab:blue", alpha=0.3, lw=0, label="mean ± std")  # fmt: skip
        for statistic, series in columns.items():
            if statistic == "mean":
                ax.plot(series.index, series, color="tab:blue", lw=0.9, label="10-min mean")
            elif statistic not in ("min", "max") and not (statistic == "std" and "mean" in columns):
                ax.plot(series.index, series, lw=0.9, label=f"{variable}_{statistic}" if statistic else variable)
        ax.set_title(f"{variable.replace('_', ' ')}, 10-minute statistics (UTC)")
        ax.set_ylabel(UNITS.get(variable, ""))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d", tz="UTC"))
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", ncols=4, fontsize="small")
        figures.append(fig)
    return figures


def quality_signals(available: list[str]) -> list[str]:
    """The ``<variable>_quality`` signals among the target's signals, in the ETL's variable order."""
    wanted = [f"{variable}{QUALITY_SUFFIX}" for variable in ETL_VARIABLES]
    return [name for name in wanted if name in available]


def daily_quality(quality: pd.DataFrame) -> pd.DataFrame:
    """Day by day (UTC), per ``<variable>_quality`` signal: the mean share of good samples over the
    day's buckets in the target (0 to 1), and how many buckets that is (144 for a full day)."""
    days = quality.index.floor("D")
    ordered = quality_signals(list(quality.columns))
    quality = quality[ordered + [c for c in quality.columns if c not in ordered]]
    shares = quality.groupby(days).mean()
    shares.columns = [column.removesuffix(QUALITY_SUFFIX) for column in shares.columns]
    buckets = quality.groupby(days).count().max(axis=1).rename("buckets")
    table = shares.join(buckets)
    table.index = table.index.strftime("%Y-%m-%d")
    table.index.name = "day (UTC)"
    return table.round(DECIMALS)


def plot_daily_quality(table: pd.DataFrame) -> plt.Figure:
    """Grouped bars of each variable's daily quality, 0 to 1."""
    variables = [column for column in table.columns if column != "buckets"]
    fig, ax = plt.subplots(figsize=(11, 3.2), layout="constrained")
    x = np.arange(len(table))
    width = 0.8 / max(len(variables), 1)
    for i, variable in enumerate(variables):
        ax.bar(x + (i - (len(variables) - 1) / 2) * width, table[variable], width, label=variable)
    ax.set_xticks(x, table.index, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of good samples")
    ax.set_title("Data quality per day")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    return fig


def power_curve(wide: pd.DataFrame, bin_width: float = 0.5) -> pd.DataFrame:
    """The measured power curve by the method of bins (as in IEC 61400-12-1): 10-minute mean
    power averaged per ``bin_width`` m/s bin of the 10-minute mean wind speed. Rows are bins with
    at least one bucket; ``reference_power`` is the turbine's nominal curve at the bin's mean speed."""
    pairs = wide[["wind_speed_mean", "power_mean"]].dropna()
    bins = (np.floor(pairs["wind_speed_mean"] / bin_width) * bin_width).rename("bin_start")
    grouped = pairs.groupby(bins)
    curve = pd.DataFrame(
        {
            "buckets": grouped.size(),
            "wind_speed": grouped["wind_speed_mean"].mean(),
            "power": grouped["power_mean"].mean(),
            "power_std": grouped["power_mean"].std(),
        }
    )
    curve["reference_power"] = POWER_CURVE.power(curve["wind_speed"].to_numpy())
    curve.index = [f"{start:.1f}–{start + bin_width:.1f}" for start in curve.index]
    curve.index.name = "wind speed bin (m/s)"
    return curve.round(DECIMALS - 2)


def plot_power_curve(wide: pd.DataFrame, curve: pd.DataFrame) -> plt.Figure:
    """Every 10-minute mean as a point, the binned curve over it, and the reference curve."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
    ax.scatter(wide["wind_speed_mean"], wide["power_mean"], s=5, color="0.6", alpha=0.6, label="10-minute means")
    speeds = np.linspace(0, max(float(wide["wind_speed_mean"].max()), POWER_CURVE.rated_speed + 2), 300)
    ax.plot(speeds, POWER_CURVE.power(speeds), color="k", lw=1, ls="--", label="reference curve")
    ax.plot(curve["wind_speed"], curve["power"], "o-", color="tab:red", ms=4, lw=1.4, label="binned (method of bins)")
    ax.set_xlabel(f"wind speed, 10-minute mean ({UNITS['wind_speed']})")
    ax.set_ylabel(f"power, 10-minute mean ({UNITS['power']})")
    ax.set_title("Measured power curve")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return fig


def coverage_table(coverage: pd.DataFrame) -> pd.DataFrame:
    """``signal_coverage`` as text: coverage in percent, instants as ``YYYY-MM-DD HH:MM``."""
    table = coverage.copy()
    table["coverage"] = (table["coverage"] * 100).round(2)
    table = table.rename(columns={"coverage": "coverage %"})
    for column in ("first", "last"):
        table[column] = table[column].map(_stamp)
    return table


def statistic_signals() -> list[str]:
    """The 10-minute statistics the ETL writes, ``<variable>_<statistic>``."""
    return [signal_name(variable, statistic) for variable in ETL_VARIABLES for statistic in STATISTICS]
