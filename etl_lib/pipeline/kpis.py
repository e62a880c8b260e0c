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


def _of(frame: pd.DataFrame, variable: str, turbines: Sequence[str]) -> pd.DataFrame:
    """The ``(turbine, variable)`` columns of ``frame`` for ``variable``, one column per turbine in ``turbines``'
    order (``frame.xs(variable, level="variable")[turbines]``, by position: a few times faster)."""
    chosen = frame.iloc[:, frame.columns.get_indexer([(turbine, variable) for turbine in turbines])]
    return chosen.set_axis(pd.Index(turbines, name="turbine"), axis=1)


def _flag(quality: QualityResult, variable: str, names: Sequence[str]) -> pd.DataFrame | None:
    """The flags of the checks ``names`` (those the registry has) on ``variable``, any of them, per turbine."""
    names = [name for name in names if name in CHECKS.names]
    if not names or variable not in quality.variables:
        return None
    flags = quality.flags
    wanted = {(turbine, variable, name) for turbine in quality.turbines for name in names}
    positions = [number for number, column in enumerate(flags.columns) if column in wanted]
    values, owners = flags.iloc[:, positions].to_numpy(dtype=bool), [flags.columns[p][0] for p in positions]
    return pd.DataFrame(
        {turbine: values[:, [o == turbine for o in owners]].any(axis=1) for turbine in quality.turbines},
        index=flags.index,
    )


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
    good = ~quality.suspect([check.name for check in CHECKS if not check.judges_curve]) & quality.grid.notna()
    grid = quality.grid
    wind = _of(grid, "wind_speed", turbines)
    power = _of(grid, "power", turbines)
    temperature = (
        _of(grid, "ambient_temperature", turbines).where(_of(good, "ambient_temperature", turbines))
        if "ambient_temperature" in quality.variables
        else None
    )
    wind_trusted = _of(good, "wind_speed", turbines)
    power_trusted = _of(good, "power", turbines)
    known_power = power.where(power_trusted)

    logged = logged.reindex(index=grid.index, columns=turbines, fill_value=-1)
    covered = logged.ge(0)
    models_of = {name: models[name] for name in turbines}
    cut_out = pd.Series({n: m.cut_out for n, m in models_of.items()})
    storm = storm_stop(wind, ~power.gt(t.power_near_zero), cut_out, t, quality.period)
    inferred_codes = availability.infer(
        quality.present[turbines],
        known_power,
        wind.where(wind_trusted),
        pd.Series({n: m.cut_in for n, m in models_of.items()}),
        cut_out,
        t.power_near_zero,
        derated=_flag(quality, "power", [DERATED_CHECK]),
        iced=_flag(quality, "power", ICED_CHECKS),
        storm=storm,
    )
    codes = logged.where(covered, inferred_codes)

    normalised = potential.normalised_wind(wind, temperature, {n: elevation.get(n) or 0.0 for n in turbines})
    full = codes.eq(availability.CODE[Category.FULL_PERFORMANCE])
    running = full & power_trusted & power.gt(t.power_near_zero)
    normal = running & wind_trusted
    curves = potential.fit_day_curves(
        normalised,
        power,
        normal,
        models_of,
        quality.period,
        bin_width=t.curve_bin_width,
        min_minutes=t.curve_min_minutes,
    )
    rated = pd.Series({n: m.rated_power for n, m in models_of.items()}, dtype="float64")
    estimate, source = potential.potential_power(
        normalised, known_power, wind_trusted, running, curves, rated, quality.farms
    )
    table = day_kpis(codes, ~covered, quality.present[turbines], known_power, estimate, rated, quality.period)
    return DayKpis(table, codes, ~covered, estimate, source, log=log)
