"""What the farms did: per turbine and day, and over any period, for a turbine, a farm or the fleet.

A day's figures (``day_kpis``) are sums, so that periods and the farm add them up (``totals``) and the
ratios are recomputed from the sums (``with_ratios``), never averaged from daily ratios:

- ``energy_kwh``: produced, the power measured (a standby draw counts negative), nothing where unknown;
- ``potential_energy_kwh``: what it would have produced were it available (``potential``);
- ``lost_kwh_<group>``: potential minus produced, minute by minute, in the group of the minute's category
  (``core.categories.LOSS_GROUPS``; a minute whose power is unknown counts in ``information_unavailable``),
  so that potential = produced + the sum of the losses, exactly;
- ``minutes_<category>``: the minutes in each IEC 61400-26-1 category, ``inferred_minutes`` of them without
  a log, ``present_minutes`` with a row, of ``expected_minutes``;
- ``lost_kwh_unavailable_<view>``: the losses during unavailable time of each view (in the user's view,
  partial performance too), for production-based availability.

The ratios: time-based availability A_t = 1 − T_u / (T_a + T_u) in the user's and the manufacturer's view;
production-based availability A_p = 1 − E_l / (E_a + E_l); the capacity factor, produced over rated power
times the period; data availability, the minutes with a row over the period's minutes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..core.categories import GROUP_OF, LOSS_GROUPS, VIEWS, Category
from ..core.contract import SAMPLE_PERIOD
from .availability import CODE, CODES, minutes, time_availability, unavailable_codes
from .production import capacity_factor, data_availability, energy_kwh

HOUR = dt.timedelta(hours=1)
CATEGORY_MINUTES = [f"minutes_{category.value}" for category in Category]
LOSSES = [f"lost_kwh_{group}" for group in LOSS_GROUPS]
UNAVAILABLE_LOSSES = [f"lost_kwh_unavailable_{view}" for view in VIEWS]
# The figures that add up over turbines and days.
ADDITIVE = [
    "capacity_kwh",
    "expected_minutes",
    "present_minutes",
    "inferred_minutes",
    *CATEGORY_MINUTES,
    "energy_kwh",
    "potential_energy_kwh",
    *LOSSES,
    *UNAVAILABLE_LOSSES,
]
RATIOS = [
    "time_availability",
    "time_availability_manufacturer",
    "production_availability",
    "production_availability_manufacturer",
    "capacity_factor",
    "data_availability",
]
_GROUP_OF_CODE = np.array([list(LOSS_GROUPS).index(GROUP_OF[category]) for category in CODES])
_UNKNOWN_GROUP = list(LOSS_GROUPS).index("information_unavailable")


def _values(frame: pd.DataFrame, columns: pd.Index, missing) -> np.ndarray:
    """``frame``'s values in ``columns``' order as a row-major array (minute x turbine); ``missing`` where it has
    no such column."""
    if not frame.columns.equals(columns):
        frame = frame.reindex(columns=columns, fill_value=missing)
    return np.ascontiguousarray(frame.to_numpy())


def day_kpis(
    codes: pd.DataFrame,
    inferred: pd.DataFrame,
    present: pd.DataFrame,
    power: pd.DataFrame,
    potential: pd.DataFrame,
    rated_power: pd.Series,
    period: dt.timedelta = SAMPLE_PERIOD,
) -> pd.DataFrame:
    """One row per turbine (a column of each frame, all on the day's time grid) with the day's sums.

    ``codes``: each minute's category code (``availability``); ``inferred``: where no log gave it;
    ``present``: where the source had a row; ``power``: the power measured, NaN where unknown or refused
    by the checks; ``potential``: the potential power (kW)."""
    hours = period / HOUR
    names = codes.columns
    code = _values(codes, names, -1)
    power_kw = _values(power, names, np.nan)
    known = ~np.isnan(power_kw)
    produced = np.where(known, power_kw, 0.0)
    lost = _values(potential, names, np.nan) * hours - produced * hours
    group = np.where(known, _GROUP_OF_CODE[code], _UNKNOWN_GROUP)
    per_minute = period / dt.timedelta(minutes=1)
    columns: dict[str, np.ndarray | float] = {  # built as one frame: column by column it took half the step
        "rated_power_kw": rated_power.reindex(names).to_numpy(dtype=float),
        "expected_minutes": len(codes.index) * per_minute,
        "present_minutes": _values(present, names, False).sum(axis=0) * per_minute,
        "inferred_minutes": _values(inferred, names, False).sum(axis=0) * per_minute,
    }
    counted = minutes(codes) * per_minute
    for category in Category:
        columns[f"minutes_{category.value}"] = counted[category.value].to_numpy()
    # Every sum adds a turbine's minutes in time order, one after the other (a row-major array's sum over its
    # rows): the same figures whichever layout the frames came in.
    columns["energy_kwh"] = energy_kwh(produced, period)
    columns["potential_energy_kwh"] = energy_kwh(_values(potential, names, np.nan), period)
    for number, name in enumerate(LOSSES):
        columns[name] = np.where(group == number, lost, 0.0).sum(axis=0)
    restricted = code == CODE[Category.PARTIAL_PERFORMANCE]
    for view, name in zip(VIEWS, UNAVAILABLE_LOSSES):
        counted_lost = np.isin(code, unavailable_codes(view)) | (restricted if view == "user" else False)
        columns[name] = np.where(counted_lost, lost, 0.0).sum(axis=0)
    frame = pd.DataFrame(columns, index=codes.columns)
    frame.index.name = "turbine"
    return frame


def with_ratios(sums: pd.DataFrame) -> pd.DataFrame:
    """``sums`` (rows of ``day_kpis`` or ``totals``) with the ratios recomputed from its sums. ``capacity_kwh``
    (rated power times the hours counted) is made from ``rated_power_kw`` where it is missing."""
    frame = sums.copy()
    if "capacity_kwh" not in frame:
        frame["capacity_kwh"] = frame["rated_power_kw"] * frame["expected_minutes"] / 60.0
    category_minutes = frame[CATEGORY_MINUTES].rename(columns=lambda name: name.removeprefix("minutes_"))
    frame["time_availability"] = time_availability(category_minutes, "user")
    frame["time_availability_manufacturer"] = time_availability(category_minutes, "manufacturer")
    for view, suffix in (("user", ""), ("manufacturer", "_manufacturer")):
        lost = frame[f"lost_kwh_unavailable_{view}"]
        denominator = (frame["energy_kwh"] + lost).where(lambda total: total > 0)
        frame[f"production_availability{suffix}"] = 1.0 - lost / denominator
    frame["capacity_factor"] = capacity_factor(frame["energy_kwh"], frame["capacity_kwh"])
    frame["data_availability"] = data_availability(frame["present_minutes"], frame["expected_minutes"])
    return frame


def totals(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The additive figures of ``rows`` (a row per turbine and day) summed per ``by`` (e.g. ``["period",
    "turbine"]``, or ``["period"]`` for the farm), the ratios recomputed from the sums."""
    frame = rows.copy()
    if "capacity_kwh" not in frame:
        frame["capacity_kwh"] = frame["rated_power_kw"] * frame["expected_minutes"] / 60.0
    summed = frame.groupby(by, sort=True)[ADDITIVE].sum()
    return with_ratios(summed)


def periods(days: pd.Series, by: str) -> pd.Series:
    """Each day's period: the day itself (``YYYY-MM-DD``) or its month (``YYYY-MM``)."""
    if by not in ("day", "month"):
        raise ValueError(f"a period is a day or a month, not {by!r}")
    stamps = pd.to_datetime(days)
    return stamps.dt.strftime("%Y-%m-%d" if by == "day" else "%Y-%m")


def sum_rule_error(frame: pd.DataFrame) -> pd.Series:
    """Per row: potential − (produced + the sum of the losses), in kWh; 0 where the figures agree."""
    return frame["potential_energy_kwh"] - (frame["energy_kwh"] + frame[LOSSES].sum(axis=1))


# What ``etl kpis`` and the reports show of a period, in this order (``farm`` after ``period`` when the rows name
# their farms, as the target's do).
COLUMNS = ["period", "turbine", "days", "energy_kwh", "potential_energy_kwh", *LOSSES, *RATIOS]
FARM = "farm"  # the turbine of a farm's totals
FLEET = "fleet"  # the farm of the fleet's totals
UNKNOWN_FARM = "(unknown)"  # the farm of a turbine the target was never told the farm of


TEXT_WIDTH = 160  # characters: a wider KPI table is wrapped into blocks of columns, each with its rows


def as_text(table: pd.DataFrame) -> str:
    """A KPI table as a terminal shows it: energies in kWh without decimals, ratios in %, wrapped into blocks
    of columns at ``TEXT_WIDTH`` characters (its header names are long; no line grows with the columns)."""
    shown = table.copy()
    for column in shown.columns:
        if "_kwh" in column:
            shown[column] = shown[column].map(lambda v: f"{v:,.0f}")
        elif column in RATIOS:
            shown[column] = shown[column].map(lambda v: "—" if v != v else f"{v:.1%}")
    keys = [c for c in ("period", "farm", "turbine", "days") if c in shown]
    widths = {c: 1 + max([len(c), *(len(str(v)) for v in shown[c])]) for c in shown.columns}
    blocks: list[list[str]] = [[]]
    for column in (c for c in shown.columns if c not in keys):  # as many figures beside the keys as fit
        used = sum(widths[c] for c in keys + blocks[-1])
        if blocks[-1] and used + widths[column] > TEXT_WIDTH:
            blocks.append([])
        blocks[-1].append(column)
    return "\n\n".join(shown[keys + block].to_string(index=False) for block in blocks)


def period_kpis(rows: pd.DataFrame, by: str = "day", *, total: bool = False) -> pd.DataFrame:
    """``rows`` (a row per turbine and day: ``day``, ``turbine``, optionally ``farm``, and the daily figures, as
    the target keeps them) per period (``by``: day or month), farm and turbine, or with ``total`` per period and
    farm (``turbine`` is ``FARM``), and then, when the rows span several farms, the fleet's per period (``farm``
    is ``FLEET``): energies and minutes added up, ratios recomputed from the sums; ``days`` says how many days a
    period holds."""
    farms = "farm" in rows.columns
    columns = [COLUMNS[0], *(["farm"] if farms else []), *COLUMNS[1:]]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    frame = rows.assign(period=periods(rows["day"], by))
    if farms:
        frame["farm"] = frame["farm"].fillna(UNKNOWN_FARM)
    keys = ["period", *(["farm"] if farms else []), "turbine"]
    if total:
        frame = frame.assign(turbine=FARM)
    parts = [frame]
    if total and farms and frame["farm"].nunique() > 1:
        parts.append(frame.assign(farm=FLEET))
    tables = []
    for part in parts:
        summed = totals(part, keys)
        summed["days"] = part.groupby(keys)["day"].nunique()
        tables.append(summed.reset_index()[columns])
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    if len(tables) > 1:  # each period's farms, then the fleet
        table = table.sort_values("period", kind="stable").reset_index(drop=True)
    return table
