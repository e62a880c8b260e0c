"""What a turbine produced in a period, and how much of the period its data covers.

Energy is the time integral of power: each value's power (kW) times the time it stands for, so a day
of 10-minute mean power gives ``sum × 1/6 h``. The capacity factor is that energy over what the
turbine's rated power would give in the period. Data availability is the share of the period's
expected samples that arrived: a property of the data, not of the turbine (the IEC 61400-26
availabilities need the turbine's state, which the data alone do not tell).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

HOUR = dt.timedelta(hours=1)


def energy_kwh(power_kw: pd.Series | pd.DataFrame, period: dt.timedelta) -> float | pd.Series:
    """kWh of power values (kW) each standing for ``period``: their sum times ``period`` in hours; a
    missing value counts as no energy. A frame gives one energy per column."""
    return power_kw.sum() * (period / HOUR)


def capacity_factor(energy: float | pd.Series, rated_power_kw: float | pd.Series, hours: float) -> float | pd.Series:
    """Energy (kWh) over what rated power (kW) would give in ``hours``: 0 to 1."""
    return energy / (rated_power_kw * hours)


def data_availability(present: pd.DataFrame) -> pd.Series:
    """Per column (turbine), the share of the expected samples present (``present``: True where a row
    arrived, one row per expected timestamp)."""
    return present.mean()
