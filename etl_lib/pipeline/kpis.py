"""The day's KPIs, wired from the checks' result and the status log (``metrics`` computes them).

Each minute's category comes from the log where it covers the minute, else from the samples and the
flags (``metrics.availability``); the potential power from the cascade of ``metrics.potential``, the
curve fitted on the turbine's own normal operation of the day; the day's sums from
``metrics.kpis.day_kpis``. Samples the checks refused count as unknown: their minutes' power is not
taken as produced, and the wind not trusted. Only the checks of a sensor refuse a sample here: a power
that stands off the curve (the checks that judge the curve) is a real measurement of a turbine that does
not run as it should, which is what the KPIs count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.categories import Category
from ..core.turbines import TurbineModel
from ..metrics import availability, potential
from ..metrics.kpis import day_kpis
from .quality import CHECKS, QualityResult, storm_stop

# The checks whose flags say how a turbine ran, where no log says it: held below its curve while
# producing (a restriction), stopped by ice (when the registry has such a check).
DERATED_CHECK = "under_performance"
ICED_CHECKS = ("stopped_iced",)


@dataclass
class DayKpis:
    """A day's KPIs: ``table`` a row per turbine (``metrics.kpis.day_kpis``); per minute and turbine the
    category ``codes`` (``metrics.availability.CODES``), where they were ``inferred``, the ``potential``
    power and which estimate gave it (``source``, ``metrics.potential.SOURCES``); ``log``: whether a
    status log was read at all."""

    table: pd.DataFrame
    codes: pd.DataFrame = field(repr=False)
    inferred: pd.DataFrame = field(repr=False)
    potential: pd.DataFrame = field(repr=False)
    source: pd.DataFrame = field(repr=False)
    log: bool = True

    @property
    def full_performance(self) -> pd.DataFrame:
        """True where the minute's category is full performance: normal operation, as a power curve reads it."""
        return self.codes.eq(availability.CODE[Category.FULL_PERFORMANCE])


def log_codes(index: pd.DatetimeIndex, turbines: Sequence[str], events: pd.DataFrame | None) -> pd.DataFrame:
    """The log's category code of each minute of ``index`` (-1 where no event covers it)."""
    return availability.from_events(index, list(turbines), events)


def _columns(frame: pd.DataFrame, variable: str, turbines: Sequence[str]) -> np.ndarray:
    """The ``(turbine, variable)`` columns of ``frame`` as a row-major array (minute x turbine, in ``turbines``'
    order). By position: ``frame.xs`` and even ``get_indexer`` took milliseconds a day; the whole step is done on
    arrays, and frames made only where a ``metrics`` function takes them."""
    position = {column: number for number, column in enumerate(frame.columns)}
    return frame.to_numpy().take([position[(turbine, variable)] for turbine in turbines], axis=1)


def compute(
    quality: QualityResult,
    logged: pd.DataFrame,
    models: Mapping[str, TurbineModel],
    elevation: Mapping[str, float | None],
    *,
    log: bool = True,
) -> DayKpis:
    """The day's KPIs of the turbines of ``quality`` (the checked day), ``logged`` the log's codes on its grid."""
    t = quality.thresholds
    turbines = quality.turbines
    grid = quality.grid
    columns = pd.Index(turbines, name="turbine")

    def frame(values: np.ndarray) -> pd.DataFrame:  # a (minute x turbine) array as the metrics take it, not copied
        return pd.DataFrame(values, index=grid.index, columns=columns, copy=False)

    refused = quality.suspect([check.name for check in CHECKS if not check.judges_curve])

    def values(variable: str) -> np.ndarray:
        return _columns(grid, variable, turbines)

    def trusted(variable: str) -> np.ndarray:  # present, usable, and refused by no check of its sensor
        return ~_columns(refused, variable, turbines) & ~np.isnan(values(variable))

    def flagged(checks: Sequence[str]) -> np.ndarray:  # a power sample flagged by any of ``checks``
        return _columns(quality.suspect(checks), "power", turbines)

    wind, power = values("wind_speed"), values("power")
    wind_trusted, power_trusted = trusted("wind_speed"), trusted("power")
    known_power = frame(np.where(power_trusted, power, np.nan))
    temperature = (
        np.where(trusted("ambient_temperature"), values("ambient_temperature"), np.nan)
        if "ambient_temperature" in quality.variables
        else None
    )
    producing = power > t.power_near_zero  # NaN: not producing

    logged = logged.reindex(index=grid.index, columns=turbines, fill_value=-1).to_numpy()
    covered = logged >= 0
    models_of = {name: models[name] for name in turbines}
    cut_out = pd.Series({n: m.cut_out for n, m in models_of.items()})
    storm = storm_stop(frame(wind), frame(~producing), cut_out, t, quality.period)
    inferred_codes = availability.infer(
        quality.present[turbines],
        known_power,
        frame(np.where(wind_trusted, wind, np.nan)),
        pd.Series({n: m.cut_in for n, m in models_of.items()}),
        cut_out,
        t.power_near_zero,
        derated=frame(flagged([DERATED_CHECK])),
        iced=frame(flagged(ICED_CHECKS)),
        storm=storm,
    )
    codes = np.where(covered, logged, inferred_codes.to_numpy())

    normalised = potential.normalised_wind(
        frame(wind), None if temperature is None else frame(temperature), {n: elevation.get(n) or 0.0 for n in turbines}
    )
    running = (codes == availability.CODE[Category.FULL_PERFORMANCE]) & power_trusted & producing
    curves = potential.fit_day_curves(
        normalised,
        frame(power),
        frame(running & wind_trusted),  # normal operation
        models_of,
        quality.period,
        bin_width=t.curve_bin_width,
        min_minutes=t.curve_min_minutes,
    )
    rated = pd.Series({n: m.rated_power for n, m in models_of.items()}, dtype="float64")
    estimate, source = potential.potential_power(
        normalised, known_power, frame(wind_trusted), frame(running), curves, rated, quality.farms
    )
    codes_frame, inferred = frame(codes), frame(~covered)
    table = day_kpis(codes_frame, inferred, quality.present[turbines], known_power, estimate, rated, quality.period)
    return DayKpis(table, codes_frame, inferred, estimate, source, log=log)
