"""What the audit notebook shows: tables as deterministic text and matplotlib figures.

Numbers are rounded so nbval can compare them; the figures are drawn from the same frames.
"""

from __future__ import annotations

import datetime as dt

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

from .pipeline import RunResult

UNITS = {"wind_speed": "m/s", "power": "kW", "ambient_temperature": "°C"}
DECIMALS = 4


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
    fig, ax = plt.subplots(figsize=(11, 3.6), layout="constrained")
    ax.plot(samples.index, samples[variable], color="0.65", lw=0.7, label="1-minute samples")
    ax.fill_between(
        step_index, stepped("min"), stepped("max"), step="post", color="tab:blue", alpha=0.2, label="10-min min–max"
    )
    ax.step(step_index, stepped("mean"), where="post", color="tab:blue", lw=1.6, label="10-min mean")
    ax.set_title(f"{variable.replace('_', ' ')} on {run_date.isoformat()} (UTC)")
    ax.set_ylabel(UNITS.get(variable, ""))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.timezone.utc))
    ax.set_xlim(step_index[0], step_index[-1])
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", ncols=3, fontsize="small")
    return fig
