"""What a turbine produced in a period, against what it could, and how much of the period its data covers:
the one definition of each, which ``kpis`` and the reports use, for a day or summed over any period.

Energy is the time integral of power: each value's power (kW) times the time it stands for, so a day
of 1-minute power gives ``sum × 1/60 h``. The capacity factor is produced energy over what the rated power
would give in the period (``capacity_kwh``: rated power times the hours). Data availability is the share of
the period's expected minutes whose row arrived: a property of the data, not of the turbine (the IEC
61400-26 availabilities need the turbine's state: ``availability``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

HOUR = dt.timedelta(hours=1)


def energy_kwh(power_kw: pd.Series | pd.DataFrame | np.ndarray, period: dt.timedelta) -> float | pd.Series | np.ndarray:
    """kWh of power values (kW) each standing for ``period``: their sum times ``period`` in hours; a
    missing value counts as no energy. A frame gives one energy per column, and so does an array (time x
    column), each column's values added in time order."""
    if isinstance(power_kw, np.ndarray):
        return np.nansum(power_kw, axis=0) * (period / HOUR)
    return power_kw.sum() * (period / HOUR)


def capacity_factor(energy: float | pd.Series, capacity: float | pd.Series) -> float | pd.Series:
    """Produced energy (kWh) over ``capacity`` (kWh: rated power times the hours): 0 to 1, NaN without hours."""
    if isinstance(capacity, pd.Series):
        return energy / capacity.where(capacity > 0)
    return energy / capacity if capacity > 0 else float("nan")


def data_availability(present_minutes, expected_minutes):
    """The share of the expected minutes whose row arrived (NaN where none was expected)."""
    if isinstance(expected_minutes, pd.Series):
        return present_minutes / expected_minutes.where(expected_minutes > 0)
    return present_minutes / expected_minutes if expected_minutes > 0 else float("nan")
