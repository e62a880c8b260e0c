"""Potential power: what each turbine would have produced each minute were it available, by a cascade of
estimates, the way the commercial platforms compute it:

1. ``own``: the turbine's own curve at its own wind speed, where its anemometer is trusted (the wind
   sample passed every check);
2. ``neighbours``: else its curve at the wind its neighbours measure (the median of the other turbines'
   trusted wind speeds, of its own farm), times the turbine's usual ratio to them (the median over the
   day's minutes where both are trusted; 1 without any);
3. ``farm``: else the power of its farm's turbines running at full performance, as a share of their
   rated power (the mean), times the turbine's rated power;
4. ``measured``: else nothing can be estimated, and the potential is the power measured (so nothing is
   counted lost), or 0 without one.

The curve is the model's table corrected by the method of bins (``power_curve.BinnedCurve``) on the
turbine's own normal operation of the day (full performance, wind and power trusted and producing)
where a bin holds enough of it, and read at the wind normalised to the air's density (IEC 61400-12-1:
``V (ρ / ρ0)^(1/3)``, ρ from the ambient temperature and the turbine's elevation).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..core.contract import SAMPLE_PERIOD
from ..core.turbines import TurbineModel, density_factor
from .farm import farm_groups, farm_reference
from .power_curve import BinnedCurve

SOURCES: tuple[str, ...] = ("own", "neighbours", "farm", "measured")
MINUTE = dt.timedelta(minutes=1)


def _array(frame: pd.DataFrame, names: list[str], dtype) -> np.ndarray:
    """``frame[names]`` as an array (not selected again when its columns are ``names`` already)."""
    return (frame if list(frame.columns) == names else frame[names]).to_numpy(dtype=dtype)


def normalised_wind(wind_speed: pd.DataFrame, temperature: pd.DataFrame | None, elevation: Mapping[str, float]):
    """The wind speeds read at the standard density: times ``(ρ / ρ0)^(1/3)`` per turbine (its elevation,
    0 m when unknown); as measured where the temperature is unknown."""
    if temperature is None:
        return wind_speed
    names = list(wind_speed.columns)
    temperatures = _array(temperature, names, "float64")
    factors = np.column_stack(
        [density_factor(temperatures[:, i], elevation.get(turbine) or 0.0) for i, turbine in enumerate(names)]
    )
    return pd.DataFrame(
        wind_speed.to_numpy(dtype="float64") * factors, index=wind_speed.index, columns=wind_speed.columns
    )


def fit_day_curves(
    wind: pd.DataFrame,
    power: pd.DataFrame,
    normal: pd.DataFrame,
    models: Mapping[str, TurbineModel],
    period: dt.timedelta = SAMPLE_PERIOD,
    *,
    bin_width: float = 0.5,
    min_minutes: float = 180.0,
) -> dict[str, BinnedCurve]:
    """Each turbine's curve by the method of bins on its samples where ``normal`` (normalised wind, power)."""
    names = wind.columns
    speeds = wind.to_numpy(dtype="float64")
    kw = power.reindex_like(wind).to_numpy(dtype="float64")
    chosen = normal.reindex_like(wind).fillna(False).to_numpy(dtype=bool)
    return {
        turbine: BinnedCurve.fit(
            models[turbine],
            speeds[chosen[:, i], i],
            kw[chosen[:, i], i],
            period / MINUTE,
            bin_width=bin_width,
            min_minutes=min_minutes,
        )
        for i, turbine in enumerate(names)
    }


def potential_power(
    wind: pd.DataFrame,
    power: pd.DataFrame,
    wind_trusted: pd.DataFrame,
    running: pd.DataFrame,
    curves: Mapping[str, BinnedCurve],
    rated_power: pd.Series,
    farms: Mapping[str, str | None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each minute's potential power (kW, never below 0) and which estimate gave it (a ``SOURCES`` index).

    ``wind``: the normalised wind speeds; ``power``: the power measured (NaN where unknown or refused);
    ``wind_trusted``: where a wind sample is trusted; ``running``: where a turbine runs at full performance
    with a trusted power sample (the farm's reference, level 3); ``curves``: each turbine's curve; ``farms``:
    each turbine's farm (None: one farm), whose turbines alone are its neighbours (levels 2 and 3)."""
    names, index = list(wind.columns), wind.index
    is_trusted = _array(wind_trusted, names, bool)
    trusted = np.where(is_trusted, _array(wind, names, "float64"), np.nan)
    own = np.column_stack([curves[t].power(trusted[:, i]) for i, t in enumerate(names)])
    own[~is_trusted] = np.nan

    farm_wind = farm_reference(pd.DataFrame(trusted, index=index, columns=names), farms).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a turbine never trusted beside its farm: ratio 1
        both = is_trusted & np.isfinite(farm_wind) & (farm_wind > 0)
        ratio = np.nanmedian(np.where(both, trusted / farm_wind, np.nan), axis=0)
    neighbour_wind = farm_wind * np.where(np.isnan(ratio), 1.0, ratio)
    neighbours = np.column_stack([curves[t].power(neighbour_wind[:, i]) for i, t in enumerate(names)])
    neighbours[np.isnan(neighbour_wind)] = np.nan

    measured_power = _array(power, names, "float64")
    rated = rated_power[names].to_numpy(dtype="float64")
    share = np.where(_array(running, names, bool), measured_power / rated, np.nan)
    farm = np.empty_like(share)
    for group in farm_groups(names, farms) or [names]:
        columns = [names.index(t) for t in group]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a minute without a running turbine: NaN
            farm[:, columns] = np.outer(np.nanmean(share[:, columns], axis=1), rated[columns])
    measured = np.where(np.isnan(measured_power), 0.0, np.maximum(measured_power, 0.0))

    levels = [own, neighbours, farm, measured]
    potential = levels[-1].copy()
    source = np.full(potential.shape, len(SOURCES) - 1)
    for number in range(len(levels) - 2, -1, -1):  # the best estimate available wins
        available = ~np.isnan(levels[number])
        potential[available] = levels[number][available]
        source[available] = number
    return (
        pd.DataFrame(np.maximum(potential, 0.0), index=wind.index, columns=wind.columns, copy=False),
        pd.DataFrame(source, index=wind.index, columns=wind.columns),
    )
