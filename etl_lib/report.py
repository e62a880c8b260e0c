"""What the audit notebook shows: tables as deterministic text and matplotlib figures.

Numbers are rounded so nbval can compare them; the figures are drawn from the same frames.
"""

from __future__ import annotations

import datetime as dt

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .pipeline import RunResult
from .quality import CHECK_DESCRIPTIONS, CHECKS, expected_timestamps, reference_power

UNITS = {"wind_speed": "m/s", "power": "kW", "ambient_temperature": "°C"}
DECIMALS = 4
CHECK_COLORS = {
    "gap": "tab:gray",
    "null": "black",
    "range": "tab:red",
    "frozen": "tab:purple",
    "spike": "tab:orange",
    "power_curve": "tab:green",
}


def run_summary(result: RunResult) -> pd.DataFrame:
    """What the run did, without wall-clock values (those are shown separately)."""
    return pd.DataFrame(
        {
            "value": {
                "date (UTC)": result.run_date.isoformat(),
                "samples read": result.rows_read,
                "10-minute buckets": result.buckets,
                "rows written": result.rows_written,
            }
        }
    )


def timings(result: RunResult) -> pd.DataFrame:
    return pd.DataFrame({"seconds": result.seconds}).round(4)


def fetched_table(samples: pd.DataFrame) -> pd.DataFrame:
    """Per variable: how many samples arrived, how many are null, their span and range."""
    rows = {}
    for name in samples.columns:
        column = samples[name]
        rows[name] = {
            "samples": len(column),
            "nulls": int(column.isna().sum()),
            "first": column.index.min().strftime("%Y-%m-%d %H:%M") if len(column) else "",
            "last": column.index.max().strftime("%Y-%m-%d %H:%M") if len(column) else "",
            "min": column.min(),
            "mean": column.mean(),
            "max": column.max(),
            "unit": UNITS.get(name, ""),
        }
    return pd.DataFrame.from_dict(rows, orient="index").round(DECIMALS)


def statistics_table(statistics: pd.DataFrame) -> pd.DataFrame:
    """The 10-minute statistics with flat ``variable_statistic`` column names, rounded."""
    flat = statistics.copy()
    flat.columns = [f"{variable}_{statistic}" for variable, statistic in flat.columns]
    flat.index = flat.index.strftime("%H:%M")
    flat.index.name = "bucket (UTC)"
    return flat.round(DECIMALS)


def written_table(written: pd.DataFrame) -> pd.DataFrame:
    """Per signal, what the target holds for the day now (read back, wide frame from ``read_signals``)."""
    return pd.DataFrame(
        {
            "rows": written.count(),
            "first": written.apply(lambda c: c.first_valid_index().strftime("%H:%M")),
            "last": written.apply(lambda c: c.last_valid_index().strftime("%H:%M")),
            "min": written.min(),
            "mean": written.mean(),
            "max": written.max(),
        }
    ).round(DECIMALS)


def plot_variable(samples: pd.DataFrame, statistics: pd.DataFrame, variable: str, run_date: dt.date):
    """The 1-minute series with the 10-minute mean and its min-max band (buckets drawn over their span)."""
    day = pd.date_range(pd.Timestamp(run_date, tz="UTC"), periods=145, freq="10min")
    # Each bucket is drawn across its ten minutes; a bucket with no samples stays a gap.
    stats = statistics[variable].reindex(day[:-1])

    def stepped(column: str) -> pd.Series:
        return pd.Series([*stats[column], stats[column].iloc[-1]], index=day)

    step_index = day
    fig, ax = plt.subplots(figsize=(11, 3.6))
    minutes = samples[variable].asfreq("1min")  # absent minutes become NaN, so gaps stay gaps
    ax.plot(minutes.index, minutes, color="0.65", lw=0.7, label="1-minute samples")
    ax.fill_between(
        step_index, stepped("min"), stepped("max"), step="post", color="tab:blue", alpha=0.15, label="10-min min–max"
    )
    mean, std = stepped("mean"), stepped("std").fillna(0.0)
    ax.fill_between(
        step_index, mean - std, mean + std, step="post", color="tab:blue", alpha=0.3, label="10-min mean ± std"
    )
    ax.step(step_index, mean, where="post", color="tab:blue", lw=1.6, label="10-min mean")
    ax.set_title(f"{variable.replace('_', ' ')} on {run_date.isoformat()} (UTC)")
    ax.set_ylabel(UNITS.get(variable, ""))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.timezone.utc))
    ax.set_xlim(step_index[0], step_index[-1])
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", ncols=3, fontsize="small")
    return fig


# --- data quality -----------------------------------------------------------------------------------


def quality_table(result: RunResult) -> pd.DataFrame:
    """Per check: its threshold and how many samples it flagged per variable."""
    quality = result.quality
    counts = pd.DataFrame(quality.flag_counts()).T
    described = quality.thresholds.describe()
    table = pd.DataFrame({"threshold": described}, index=list(CHECKS)).join(counts)
    table.index.name = "check"
    return table


def checks_legend() -> pd.DataFrame:
    """What each check looks for."""
    return pd.DataFrame({"looks for": CHECK_DESCRIPTIONS}).rename_axis("check")


def day_quality_table(result: RunResult) -> pd.DataFrame:
    """Per variable: samples expected, present (non-null), good, and the share good."""
    quality = result.quality
    return pd.DataFrame(
        {
            "expected": len(expected_timestamps(result.run_date)),
            "present": quality.grid.notna().sum(),
            "good": quality.good().sum(),
            "quality": pd.Series(quality.day_quality()).round(DECIMALS),
        }
    ).rename_axis("variable")


def flagged_stretches(result: RunResult) -> pd.DataFrame:
    """Every stretch of consecutive samples one check flagged: variable, check, from, to, samples."""
    rows = []
    for (variable, check), flags in result.quality.flags.items():
        if not flags.any():
            continue
        stretch = flags.ne(flags.shift()).cumsum()[flags]
        for _, members in stretch.groupby(stretch):
            rows.append(
                {
                    "variable": variable,
                    "check": check,
                    "from": members.index[0].strftime("%H:%M"),
                    "to": members.index[-1].strftime("%H:%M"),
                    "samples": len(members),
                }
            )
    columns = ["variable", "check", "from", "to", "samples"]
    return pd.DataFrame(rows, columns=columns).sort_values(["from", "variable", "check"], ignore_index=True)


def bucket_quality_table(result: RunResult, only_imperfect: bool = True) -> pd.DataFrame:
    """The ``_count`` and ``_quality`` values per bucket (by default only buckets below quality 1)."""
    table = result.bucket_quality.copy()
    table.columns = [f"{variable}_{measure}" for variable, measure in table.columns]
    if only_imperfect:
        table = table[(table.filter(like="_quality") < 1).any(axis=1)]
    table.index = table.index.strftime("%H:%M")
    table.index.name = "bucket (UTC)"
    return table.round(DECIMALS)


def power_curve_table(result: RunResult, bin_width: float = 2.0) -> pd.DataFrame:
    """The measured power curve in wind-speed bins: samples, mean power of the good samples beside the
    reference curve's mean at their wind speeds, and samples the power-curve check flagged."""
    grid = result.quality.grid
    good = result.quality.good()["power"] & result.quality.good()["wind_speed"]
    reference = pd.Series(reference_power(grid["wind_speed"], result.quality.thresholds), index=grid.index)
    edges = np.arange(0.0, max(float(grid["wind_speed"].max()), 0.0) + bin_width, bin_width)
    bins = pd.cut(grid["wind_speed"], edges, right=False)
    table = pd.DataFrame(
        {
            "samples": grid["power"].groupby(bins, observed=False).count(),
            "good": good.groupby(bins, observed=False).sum().astype(int),
            "mean power (good)": grid["power"].where(good).groupby(bins, observed=False).mean(),
            "reference": reference.where(good).groupby(bins, observed=False).mean(),
            "flagged power_curve": result.quality.flags[("power", "power_curve")].groupby(bins, observed=False).sum(),
        }
    ).astype({"flagged power_curve": int})
    table.index = [f"{interval.left:g}–{interval.right:g}" for interval in table.index]
    table.index.name = "wind (m/s)"
    return table[table["samples"] > 0].round(1)


def plot_flags(result: RunResult, variable: str):
    """The 1-minute series with each check's flagged samples marked; gaps shaded."""
    quality = result.quality
    data = quality.grid[variable]
    fig, ax = plt.subplots(figsize=(11, 3.4))
    ax.plot(data.index, data, color="0.55", lw=0.7, label="1-minute samples")
    gaps = quality.flags[(variable, "gap")] | quality.flags[(variable, "null")]
    if gaps.any():
        ax.fill_between(
            data.index, 0, 1, where=gaps.to_numpy(), transform=ax.get_xaxis_transform(),
            color=CHECK_COLORS["gap"], alpha=0.25, step="mid", label="gap / null",
        )  # fmt: skip
    for size, check in zip((44, 30, 20, 12), ("range", "frozen", "spike", "power_curve")):  # overlaps stay visible
        flags = quality.flags[(variable, check)]
        if flags.any():
            ax.scatter(
                data.index[flags], data[flags], s=size, color=CHECK_COLORS[check], zorder=3,
                label=f"{check} ({int(flags.sum())})",
            )  # fmt: skip
    share = quality.day_quality()[variable]
    ax.set_title(f"{variable.replace('_', ' ')} on {result.run_date.isoformat()}: flagged samples (quality {share:.1%})")
    ax.set_ylabel(UNITS.get(variable, ""))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.timezone.utc))
    ax.set_xlim(data.index[0], data.index[-1] + pd.Timedelta(minutes=1))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", ncols=4, fontsize="small")
    return fig


def plot_quality_strip(result: RunResult):
    """Bucket-by-bucket quality of the day, one row per variable (0 red … 1 green)."""
    table = result.bucket_quality.xs("quality", axis=1, level="statistic")
    fig, ax = plt.subplots(figsize=(11, 0.5 + 0.45 * len(table.columns)))
    start = mdates.date2num(table.index[0])
    end = mdates.date2num(table.index[-1] + pd.Timedelta(minutes=10))
    image = ax.imshow(
        table.T.to_numpy(), aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, interpolation="nearest",
        extent=(start, end, len(table.columns) - 0.5, -0.5),
    )  # fmt: skip
    ax.set_yticks(range(len(table.columns)), [c.replace("_", " ") for c in table.columns])
    ax.xaxis_date(tz=dt.timezone.utc)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.timezone.utc))
    ax.set_title(f"10-minute quality on {result.run_date.isoformat()} (share of the 10 samples that are good)")
    fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03)
    return fig


def plot_power_curve(result: RunResult):
    """Wind speed against power: good samples, flagged ones by check, and the reference curve."""
    quality = result.quality
    wind, power = quality.grid["wind_speed"], quality.grid["power"]
    suspect = quality.suspect()[["wind_speed", "power"]].any(axis=1)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.scatter(wind[~suspect], power[~suspect], s=5, color="0.6", alpha=0.6, label="good samples")
    for size, check in zip((44, 30, 20, 12), ("range", "frozen", "spike", "power_curve")):
        flags = quality.flags[("power", check)] | quality.flags[("wind_speed", check)]
        if flags.any():
            ax.scatter(wind[flags], power[flags], s=size, color=CHECK_COLORS[check], label=f"{check} ({int(flags.sum())})")
    top = max(float(np.nanmax(wind.to_numpy())) if wind.notna().any() else 0.0, quality.thresholds.cut_out) + 1
    speeds = np.linspace(0, top, 400)
    ax.plot(speeds, reference_power(speeds, quality.thresholds), color="tab:blue", lw=1.5, label="reference curve")
    ax.set_xlabel("wind speed (m/s)")
    ax.set_ylabel("power (kW)")
    ax.set_title(f"Measured power curve on {result.run_date.isoformat()}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return fig
