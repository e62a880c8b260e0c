"""What the farm did, as the reports show it: one KPI table layout for a run's day (``audit.kpi_table``)
and for days and months of the audit trail (``period_table``), and the trend of the days
(``trend_figure``) for the runs summary. The figures themselves come from ``metrics.kpis``; each is
defined in docs/kpis.md.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ..config.settings import Settings, get_settings
from ..metrics.kpis import FARM, FLEET, period_kpis
from ..storage.engines import target_engine
from ..storage.query import read_kpis
from . import present

CAPTION = "What the farm did (docs/kpis.md defines each figure)"
# The contract's availability threshold is a business choice (Dagster's check reads it from its config);
# the reports highlight any availability below 100 %, as they highlight any fault.
FULL = 1.0


def shown(kpis: pd.DataFrame) -> pd.DataFrame:
    """The KPI figures of ``kpis`` (rows of ``metrics.kpis``: energies in kWh, ratios 0..1) in the reports'
    words and units: produced, potential and lost energy in MWh, the availabilities, the capacity factor,
    data availability, and (where the rows carry it) the minutes whose category no log gave."""
    frame = pd.DataFrame(index=kpis.index)
    if "days" in kpis:
        frame["days"] = kpis["days"].astype(int)
    frame["produced (MWh)"] = kpis["energy_kwh"] / 1000
    frame["potential (MWh)"] = kpis["potential_energy_kwh"] / 1000
    frame["lost (MWh)"] = (kpis["potential_energy_kwh"] - kpis["energy_kwh"]) / 1000
    frame["availability, user's view"] = kpis["time_availability"]
    frame["availability, manufacturer's view"] = kpis["time_availability_manufacturer"]
    frame["production-based availability"] = kpis["production_availability"]
    frame["capacity factor"] = kpis["capacity_factor"]
    frame["data availability"] = kpis["data_availability"]
    if "inferred_minutes" in kpis:
        frame["minutes without a log"] = kpis["inferred_minutes"].astype(int)
    return frame


def table(kpis: pd.DataFrame, *, caption: str = CAPTION, links: dict[str, str] | None = None) -> pd.DataFrame:
    """``shown(kpis)`` as a report table: shares in %, energies to the kWh, an availability below 100 % and
    minutes without a log highlighted."""
    frame = shown(kpis)
    shares = [c for c in frame.columns if "availability" in c or c == "capacity factor"]
    energies = [c for c in frame.columns if c.endswith("(MWh)")]
    return present.table(
        frame.round(dict.fromkeys(energies, 3)),
        percent=shares,
        decimals=dict.fromkeys(energies, 3),
        warn_below=dict.fromkeys([c for c in shares if c != "capacity factor"], FULL),
        warn_above={"minutes without a log": 0} if "minutes without a log" in frame else None,
        caption=caption,
        links=links,
        empty="The target holds no KPIs for these days.",
    )


def trail_kpis(dates: pd.Index, settings: Settings | None = None, farms: list[str] | None = None) -> pd.DataFrame:
    """The daily KPI rows the target holds for the days of ``dates`` (``YYYY-MM-DD``; e.g. the runs summary's
    index) of the farms ``farms`` (None: every farm): a row per turbine and day, as ``storage.query.read_kpis``
    reads them."""
    settings = settings or get_settings()
    days = sorted({dt.date.fromisoformat(str(day)) for day in dates})
    if not days:
        return read_kpis(dt.date.min, dt.date.min, engine=target_engine(settings), farms=farms)
    rows = read_kpis(days[0], days[-1], engine=target_engine(settings), farms=farms)
    return rows[rows["day"].isin(days)].reset_index(drop=True)


def _one_farm(kpis: pd.DataFrame) -> pd.DataFrame:
    """``period_kpis`` rows without their farm when they are one farm's; of several farms, as they are."""
    if "farm" in kpis and kpis["farm"].nunique() <= 1:
        return kpis.drop(columns="farm")
    return kpis


def _farm_or_fleet(totals: pd.DataFrame) -> pd.DataFrame:
    """The totals (``period_kpis(..., total=True)``) of the one farm they hold, or of the fleet, each period once."""
    if "farm" in totals and totals["farm"].nunique() > 1:
        return totals[totals["farm"] == FLEET].reset_index(drop=True)
    return totals


def period_table(rows: pd.DataFrame, by: str = "day", *, total: bool = True) -> pd.DataFrame:
    """``rows`` (daily KPI rows) per day or month, for the farm (``total``: each farm's totals, and the fleet's
    when they are of several farms) or per turbine, as a report table; days link to their audit report's HTML."""
    kpis = _one_farm(period_kpis(rows, by, total=total))
    index = ["period", *(["farm"] if "farm" in kpis else []), *([] if total else ["turbine"])]
    frame = kpis.set_index(index).drop(columns=[c for c in ("turbine",) if total and c in kpis])
    frame.index = frame.index.set_names(["date" if by == "day" else "month", *index[1:]])
    what = ("each farm and the fleet" if "farm" in kpis else "the farm") if total else "each turbine"
    caption = f"What {what} did per {by} ({'the days of the reports' if by == 'day' else 'the days the target holds'})"
    links = {"date": "{}.html"} if by == "day" and total and len(index) == 1 else None
    return table(frame, caption=caption, links=links)


def trend_figure(rows: pd.DataFrame) -> Figure:
    """The farm's days: produced and lost energy as stacked bars (their sum: the potential), and time-based
    availability in the user's and the manufacturer's view on a % axis beneath."""
    daily = _farm_or_fleet(period_kpis(rows, "day", total=True))
    fig, (energy, shares) = present.figure(2, row_height=2.4, legend=True)
    if daily.empty:
        present.title(energy, "No KPIs yet: the target holds none for these days")
        return fig
    days = pd.to_datetime(daily["period"]).dt.tz_localize("UTC") + pd.Timedelta(hours=12)
    produced = daily["energy_kwh"].to_numpy(float) / 1000
    lost = (daily["potential_energy_kwh"] - daily["energy_kwh"]).to_numpy(float) / 1000
    width = pd.Timedelta(hours=18)
    energy.bar(days, produced, width=width, color="tab:blue", label="produced")
    energy.bar(days, np.clip(lost, 0, None), bottom=produced, width=width, color="tab:red", label="lost")
    energy.set_ylabel("MWh")
    present.title(energy, "The farm's days: produced and lost energy (together: the potential)")
    series = (
        ("time_availability", "availability, user's view"),
        ("time_availability_manufacturer", "availability, manufacturer's view"),
        ("production_availability", "production-based availability"),
    )
    for (column, label), (marker, size) in zip(series, present.SHARE_MARKERS):  # large to small: none hidden
        shares.plot(days, daily[column].astype(float), marker=marker, ms=size, lw=1, label=label)
    present.share_axis(shares, daily[["time_availability", "production_availability"]].to_numpy(float).ravel())
    shares.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    present.title(shares, "The farm's availability per day")
    for ax in (energy, shares):
        ax.set_xlim(days.min() - pd.Timedelta(hours=12), days.max() + pd.Timedelta(hours=12))
        present.time_axis(ax, daily=True)
        present.legend_outside(ax)
    return fig


__all__ = ["FARM", "period_table", "shown", "table", "trail_kpis", "trend_figure"]
