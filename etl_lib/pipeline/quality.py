"""Quality checks on the samples of a farm, in the style of OpenOA's ``filters.py``.

Each check is a small pure function that returns boolean flags (True = suspect) with its
thresholds as named arguments; it works on a frame of one variable, one column per turbine, so a
farm is checked in one vectorised pass. Flags, not deletions: the statistics still use every
finite non-null sample; the verdict is stored beside them as ``<variable>_count`` and
``<variable>_quality``.

Thresholds are times, not sample counts, so 1-minute and 10-minute data are judged alike; the
sample period is given (the ETL's contract: 1 minute) or detected from a file. Where the scope
holds more than one turbine, each turbine is compared with the farm (the median of the other
turbines of its own farm: a run is one farm's day, and given each turbine's farm the checks never
judge a turbine against another farm's weather): what the whole farm does at once (a calm, a gust front, a grid event, a still night) is
weather or the grid, not a sensor fault, so the frozen and spike checks consult the farm before they
flag, and an anemometer reading far below the farm's wind is flagged (``icing`` near or below
freezing, else ``farm_wind``). The farm's wind is the other anemometers' median or, where higher, the
wind the other producing turbines' power implies through their curves: when most anemometers are iced
together, the power still says how hard the wind blows. A stop is judged by the turbine's own wind,
or by the farm's where its own anemometer is missing or reads far below the farm's. A lone turbine is
judged alone.

Power is judged against the turbine's expected power (``metrics.power_curve``: its model's curve,
corrected per wind-speed bin by its own history when the caller fitted one) with a band around it
that allows a few per cent of wind where the curve is steep. All default thresholds live in
``QualityThresholds``; rated power and curve come from the model.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core.contract import SAMPLE_PERIOD
from ..core.errors import ConfigurationError
from ..core.scope import RunScope
from ..core.turbines import TurbineModel
from ..metrics import quality as summaries
from ..metrics.farm import farm_reference
from ..metrics.power_curve import BinnedCurve

# MAD of a normal distribution times this is its standard deviation.
MAD_TO_STD = 1.4826
MINUTE = dt.timedelta(minutes=1)


class QualityThresholds(BaseModel):
    """Every threshold of the checks, in one place; durations are in minutes, whatever the sample
    period. The turbine's rated power and power curve come from its model; these are the margins."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wind_speed_min: float = Field(0.0, description="m/s; lower physical limit of the anemometer")
    wind_speed_max: float = Field(40.0, description="m/s; upper physical limit")
    power_min: float = Field(-50.0, description="kW; more consumption than this is impossible for an idle turbine")
    power_max_factor: float = Field(1.1, description="power above this times the model's rated power is impossible")
    ambient_temperature_min: float = Field(-40.0, description="°C")
    ambient_temperature_max: float = Field(60.0, description="°C")

    frozen_wind_speed: float = Field(10.0, gt=0, description="minutes of one repeated value")
    frozen_power: float = Field(10.0, gt=0, description="minutes; idle power (≤ power_near_zero) never counts")
    frozen_ambient_temperature: float = Field(60.0, gt=0, description="minutes; temperature changes slowly")
    frozen_min_samples: int = Field(
        5,
        ge=2,
        description="a frozen run also holds at least this many samples (three equal 10-minute means are no evidence)",
    )
    frozen_temperature_deadband: float = Field(
        0.1,
        ge=0,
        description="°C; a temperature holding one value is not frozen where the farm's stays within ± this over "
        "the run too (a still night: a logger's deadband holds the value)",
    )

    spike_window: float = Field(11.0, gt=0, description="minutes of the centred rolling window")
    spike_window_min_samples: int = Field(5, ge=3, description="the window holds at least this many samples")
    spike_mads: float = Field(6.0, gt=0, description="allowed distance from the median, in robust std (1.4826 MAD)")
    spike_min_wind_speed: float = Field(5.0, ge=0, description="m/s; a smaller deviation is never a spike")
    spike_min_power: float = Field(400.0, ge=0, description="kW; a smaller deviation is never a spike")
    spike_min_ambient_temperature: float = Field(3.0, ge=0, description="°C; a smaller deviation is never a spike")
    spike_storm_margin: float = Field(
        5.0,
        ge=0,
        description="m/s; from cut-out minus this, a jump of power is a "
        "storm stop or restart (gusts inside a 10-minute mean reach cut-out), "
        "not a spike",
    )
    spike_farm_share: float = Field(
        0.5,
        gt=0,
        description="no spike where the farm's median jumps the same way by "
        "at least this share of the turbine's jump ...",
    )
    spike_farm_minutes: float = Field(
        2.0, ge=0, description="... within this many minutes (a front reaches the turbines one after another)"
    )

    farm_calm_wind_speed: float = Field(2.0, ge=0, description="m/s; the farm's wind at or below this is a calm")
    farm_wind_dead: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="an anemometer reading below this share of the "
        "farm's wind while the farm blows is dead or stuck, at once",
    )
    farm_wind_low: float = Field(
        0.7,
        gt=0,
        lt=1,
        description="... and below this share of it for a while, biased (iced, misaligned): wakes alone take less",
    )
    farm_wind_minutes: float = Field(
        30.0, gt=0, description="'for a while': at least half of a centred window of this many minutes"
    )
    icing_temperature: float = Field(
        2.0,
        description="°C; at or below this (the turbine's own temperature, else the farm's) an anemometer reading "
        "far below the farm's wind is iced, and a stop it hides is 'stopped, likely iced'",
    )

    below_cut_in_margin: float = Field(
        1.0, ge=0, description="m/s; 'below cut-in' means below the model's cut-in minus this"
    )
    operating_margin: float = Field(
        2.0,
        ge=0,
        description="m/s; 'well inside the operating range' keeps this distance from the model's cut-in and cut-out",
    )
    restart_margin: float = Field(
        5.0,
        ge=0,
        description="m/s; after a high-wind cut-out a turbine restarts only below cut-out minus this: a stop from "
        "there up is a storm stop, not a stop in wind",
    )
    power_near_zero: float = Field(20.0, description="kW; at or below this the turbine is not producing")
    band_fraction: float = Field(0.15, ge=0, description="the band around the expected power: this share of it ...")
    band_power: float = Field(50.0, ge=0, description="... plus this many kW, on either side ...")
    band_wind: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="... around the curve read at the wind × (1 ± this): an anemometer's few per cent "
        "(calibration, turbulence within a sample) weigh where the curve is steep",
    )
    performance_minutes: float = Field(
        30.0,
        gt=0,
        description="under- or over-performance holds for at least half of a centred window of this many minutes",
    )
    curve_bin_width: float = Field(0.5, gt=0, description="m/s; wind-speed bins of the method of bins")
    curve_min_minutes: float = Field(
        180.0,
        gt=0,
        description="a bin of the turbine's own history corrects the "
        "model's curve when it holds this many minutes of normal operation",
    )

    def ranges(self, rated_power: float | pd.Series) -> dict[str, tuple[float, float | pd.Series]]:
        """Physical limits per variable; power's upper limit is a factor of ``rated_power`` (kW: one
        model's, or a Series of each turbine's)."""
        return {
            "wind_speed": (self.wind_speed_min, self.wind_speed_max),
            "power": (self.power_min, self.power_max_factor * rated_power),
            "ambient_temperature": (self.ambient_temperature_min, self.ambient_temperature_max),
        }

    def frozen_minutes(self, variable: str) -> float:
        return getattr(self, f"frozen_{variable}")

    def spike_min_deviation(self, variable: str) -> float:
        return getattr(self, f"spike_min_{variable}")

    def describe(self) -> dict[str, str]:
        """The threshold of each check (``CHECKS``) as one line of text, for the report and the docs."""
        return {check.name: check.rule(self) for check in CHECKS}


def thresholds_from(overrides: dict | QualityThresholds | None) -> QualityThresholds:
    """Thresholds with ``overrides`` (e.g. the notebook parameter) applied; a clear error for a bad one."""
    if isinstance(overrides, QualityThresholds):
        return overrides
    if overrides is not None and not isinstance(overrides, dict):
        raise ConfigurationError(
            f"Quality threshold overrides must be a mapping of name to number, not {type(overrides).__name__} "
            f"{overrides!r}.",
            "Pass e.g. {'frozen_wind_speed': 15} (papermill: -y 'thresholds: {frozen_wind_speed: 15}').",
            setting="thresholds",
        )
    try:
        return QualityThresholds(**(overrides or {}))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'thresholds'}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(
            f"Quality threshold override(s) {overrides!r} are invalid: {problems}.",
            f"Use only these names with numbers: {', '.join(QualityThresholds.model_fields)}.",
            setting="thresholds",
        ) from None


def samples_for(minutes: float, period: dt.timedelta, *, at_least: int = 1) -> int:
    """How many samples of ``period`` span ``minutes`` (rounded up), and at least ``at_least``."""
    return max(at_least, math.ceil(minutes / (period / MINUTE) - 1e-9))


# --- the checks: pure functions, one flag per sample, one column per turbine -----------------------


def gap_flag(present: pd.DataFrame) -> pd.DataFrame:
    """True at each expected timestamp a turbine's row is absent from (``present`` is False)."""
    return ~present


def null_flag(data: pd.DataFrame, present: pd.DataFrame, non_finite: pd.DataFrame) -> pd.DataFrame:
    """True where the row is present but the value is null (absent rows are gaps, non-finite numbers
    have their own check)."""
    return data.isna() & present & ~non_finite


def range_flag(data: pd.DataFrame, lower, upper) -> pd.DataFrame:
    """True where the value lies outside ``[lower, upper]`` (scalars, or one bound per turbine column);
    nulls are not flagged."""
    return data.lt(lower) | data.gt(upper)


def _run_lengths(data: pd.DataFrame) -> np.ndarray:
    """Per sample, how many samples its run of consecutive equal non-null values holds (0 for nulls)."""
    values = data.to_numpy(dtype="float64")
    rows, columns = values.shape
    same = np.zeros_like(values, dtype=bool)
    same[1:] = values[1:] == values[:-1]  # NaN never equals NaN: a null ends a run
    run = np.cumsum(~same, axis=0) + np.arange(columns) * (rows + 1)  # run ids unique across columns
    return np.where(np.isnan(values), 0, np.bincount(run.ravel())[run])


def _run_spread(data: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    """Per sample of ``data``, how far ``other`` moves (its maximum minus its minimum, nulls ignored; NaN
    if all null) over the sample's run of consecutive equal values (``_run_lengths``)."""
    values = data.to_numpy(dtype="float64").T  # a turbine's samples one after another
    if not values.size:
        return np.zeros(data.shape)
    same = np.zeros_like(values, dtype=bool)
    same[:, 1:] = values[:, 1:] == values[:, :-1]
    starts = np.flatnonzero(~same.ravel())
    moving = other.to_numpy(dtype="float64").T.ravel()
    with np.errstate(invalid="ignore"):
        spread = np.fmax.reduceat(moving, starts) - np.fmin.reduceat(moving, starts)
    return np.repeat(spread, np.diff(np.r_[starts, moving.size])).reshape(values.shape).T


def frozen_flag(
    data: pd.DataFrame,
    min_samples: int,
    exempt: pd.DataFrame | None = None,
    farm: pd.DataFrame | None = None,
    deadband: float | None = None,
) -> pd.DataFrame:
    """True on every sample of a run of ``min_samples`` or more consecutive equal non-null values.

    ``data`` must be on the regular time grid (gaps as nulls), so a gap ends a run. Samples where
    ``exempt`` is True (e.g. idle power, a farm-wide calm) never count; nor do those where ``farm``
    (the farm's reference, e.g. ``farm_reference``) is frozen as long too: the whole farm holding
    still is weather or a shared value, not one stuck sensor. With ``deadband``, nor do the runs over
    which the farm's reference stays within ± ``deadband`` (it moves by at most twice that): the farm
    holds too, and a logger's deadband keeps one value while its neighbours jitter.
    """
    flag = pd.DataFrame(_run_lengths(data) >= min_samples, index=data.index, columns=data.columns)
    if farm is not None:
        flag &= ~(_run_lengths(farm) >= min_samples)
        if deadband is not None:
            with np.errstate(invalid="ignore"):
                flag &= ~(_run_spread(data, farm) <= 2 * deadband + 1e-9)
    return flag & ~exempt if exempt is not None else flag


def _rolling(values: np.ndarray, window: int, min_periods: int, statistic: str) -> np.ndarray:
    """pandas' ``rolling(window, center=True, min_periods).median()`` (or ``max``, ``min``) of each column of
    ``values`` for an odd ``window``, in NumPy: the windows' values sorted once (NaN last), the middle of the
    present ones read off. Equal to pandas' to the last digit (the middle value; the mean of the two middle
    ones for an even count), and a fraction of its time on the small frames of a day."""
    half = window // 2
    padded = np.pad(values, ((half, half), (0, 0)), constant_values=np.nan)
    windows = np.sort(np.lib.stride_tricks.sliding_window_view(padded, window, axis=0), axis=-1)
    count = window - np.isnan(windows).sum(axis=-1)

    def at(position: np.ndarray) -> np.ndarray:
        return np.take_along_axis(windows, np.clip(position, 0, window - 1)[..., None], axis=-1)[..., 0]

    if statistic == "median":
        low, high = at((count - 1) // 2), at(count // 2)
        with np.errstate(over="ignore", invalid="ignore"):
            result = np.where(count % 2 == 1, low, (low + high) / 2)
    elif statistic == "max":
        result = at(count - 1)
    else:
        result = at(np.zeros_like(count))
    result[count < min_periods] = np.nan
    return result


def spike_flag(
    data: pd.DataFrame,
    window: int,
    n_mads: float,
    min_deviation: float,
    farm: pd.DataFrame | None = None,
    farm_share: float = 0.5,
    farm_window: int = 1,
) -> pd.DataFrame:
    """True where a sample is further from the median of the centred ``window`` (samples, odd) than
    ``max(n_mads * 1.4826 * MAD, min_deviation)``; MAD is the rolling median absolute deviation.

    ``min_deviation`` keeps a very steady signal (MAD near 0) from flagging ordinary noise. With
    ``farm`` (the farm's reference), a jump is no spike where the farm's own deviation from its
    rolling median goes the same way by at least ``farm_share`` of it within the centred
    ``farm_window`` samples: a gust front or a grid event reaches every turbine.
    """
    least = window // 2 + 1
    values = data.to_numpy(dtype="float64")
    with np.errstate(invalid="ignore", over="ignore"):
        deviation = values - _rolling(values, window, least, "median")
        mad = _rolling(np.abs(deviation), window, least, "median")
        flag = np.abs(deviation) > np.maximum(n_mads * MAD_TO_STD * mad, min_deviation)
        if farm is not None:
            reference = farm.reindex(columns=data.columns).to_numpy(dtype="float64")
            farm_deviation = reference - _rolling(reference, window, least, "median")
            up, down = _rolling(farm_deviation, farm_window, 1, "max"), _rolling(farm_deviation, farm_window, 1, "min")
            shared = ((deviation > 0) & (up >= farm_share * deviation)) | (
                (deviation < 0) & (down <= farm_share * deviation)
            )
            flag &= ~shared
    return pd.DataFrame(flag, index=data.index, columns=data.columns)


def farm_wind_flag(
    wind_speed: pd.DataFrame,
    farm_wind: pd.DataFrame,
    calm: float,
    dead: float,
    low: float,
    window: int,
    excused: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """True where the farm blows (its reference wind above ``calm``) and the turbine's anemometer reads
    less than ``dead`` times that (dead or stuck), or less than ``low`` times that for at least half of
    the centred ``window`` samples (biased: iced, misaligned). Where ``excused`` is True (an idle turbine
    in light wind reads less than its running neighbours: its rotor no longer draws the flow through)
    only the first counts. False where the farm's wind is unknown (a lone turbine)."""
    blowing = farm_wind.gt(calm)
    biased = held(wind_speed.lt(low * farm_wind), window)
    if excused is not None:
        biased &= ~excused
    return blowing & (wind_speed.lt(dead * farm_wind) | biased)


Curve = TurbineModel | BinnedCurve


def curve_columns(
    turbines: Sequence[str], models: Mapping[str, TurbineModel], curves: Mapping[str, BinnedCurve] | None = None
) -> dict[Curve, list[int]]:
    """The positions of ``turbines`` by the curve each is judged against (its fitted curve from ``curves``,
    else its model's): one vectorised call per curve, however many turbines share it."""
    groups: dict[Curve, list[int]] = {}
    for position, name in enumerate(turbines):
        groups.setdefault((curves or {}).get(name) or models[name], []).append(position)
    return groups


def expected_power(
    wind_speed: pd.DataFrame, models: Mapping[str, TurbineModel], curves: Mapping[str, BinnedCurve] | None = None
) -> pd.DataFrame:
    """Each turbine's expected power at its measured wind speed (kW; 0 when not producing): its fitted
    curve from ``curves`` when given, else its model's curve."""
    wind = wind_speed.to_numpy(dtype="float64")
    power = np.zeros_like(wind)
    for curve, columns in curve_columns(list(wind_speed.columns), models, curves).items():
        power[:, columns] = curve.power(wind[:, columns])
    return pd.DataFrame(power, index=wind_speed.index, columns=wind_speed.columns)


def expected_band(
    wind_speed: pd.DataFrame,
    expected: pd.DataFrame,
    models: Mapping[str, TurbineModel],
    t: QualityThresholds,
    curves: Mapping[str, BinnedCurve] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The lower and upper edge of the band power is judged in (kW): the ``expected`` power at the wind,
    or the curve at the wind × (1 ∓ ``band_wind``) where that is further out, widened by ``band_fraction``
    of it plus ``band_power``. Where the curve is steep a few per cent of wind are many kilowatts; on its
    flat top (rated power) the band is the power's alone."""
    at_wind = expected.to_numpy(dtype="float64")
    lowest = np.fmin(at_wind, expected_power(wind_speed * (1 - t.band_wind), models, curves).to_numpy())
    highest = np.fmax(at_wind, expected_power(wind_speed * (1 + t.band_wind), models, curves).to_numpy())
    return (
        pd.DataFrame((1 - t.band_fraction) * lowest - t.band_power, index=expected.index, columns=expected.columns),
        pd.DataFrame((1 + t.band_fraction) * highest + t.band_power, index=expected.index, columns=expected.columns),
    )


@lru_cache(maxsize=256)
def rising_part(curve: Curve, step: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """``(powers, wind speeds)`` of ``curve`` from cut-in to where it first reaches its top, in steps of
    ``step`` m/s, powers strictly increasing: where the curve can be read backwards (each power the least
    wind that gives it)."""
    model = curve.model if isinstance(curve, BinnedCurve) else curve
    winds = np.arange(model.cut_in, model.cut_out, step)
    powers = np.maximum.accumulate(curve.power(winds))
    top = int(np.argmax(powers))
    winds, powers = winds[: top + 1], powers[: top + 1]
    rising = np.r_[True, np.diff(powers) > 0]
    return powers[rising], winds[rising]


def implied_wind(
    power: pd.DataFrame,
    models: Mapping[str, TurbineModel],
    t: QualityThresholds,
    curves: Mapping[str, BinnedCurve] | None = None,
) -> pd.DataFrame:
    """The wind each producing turbine's power implies through its own curve: the least wind at which the
    band's upper edge (``expected_band``) reaches the power, the curve read backwards on its rising part
    (a power on the flat top implies at least the wind where the top begins). A lower bound, so that
    noise, turbulence and the curve's uncertainty never make it too high. NaN where the turbine does not
    produce more than ``power_near_zero`` and ``band_power`` (near cut-in a power says little of the wind)."""
    values = power.to_numpy(dtype="float64")
    target = (values - t.band_power) / (1 + t.band_fraction)
    producing = (values > t.power_near_zero) & (target > 0)
    wind = np.full_like(target, np.nan)
    for curve, columns in curve_columns(list(power.columns), models, curves).items():
        powers, winds = rising_part(curve)
        wind[:, columns] = np.interp(target[:, columns], powers, winds) / (1 + t.band_wind)
    return pd.DataFrame(np.where(producing, wind, np.nan), index=power.index, columns=power.columns)


def held(flag: pd.DataFrame, window: int, share: float = 0.5) -> pd.DataFrame:
    """``flag`` where it is True on at least ``share`` of the samples of the centred ``window``: a
    state held for a while, not a passing fluctuation."""
    return flag & flag.astype("float64").rolling(window=window, center=True, min_periods=1).mean().ge(share)


def storm_stop(
    wind_speed: pd.DataFrame,
    stopped: pd.DataFrame,
    cut_out: pd.Series,
    t: QualityThresholds,
    period: dt.timedelta,
) -> pd.DataFrame:
    """True while a turbine may stand in a high-wind cut-out: from a sample at cut-out, or a stop within
    ``operating_margin`` of it (the controller reads the wind at the air's density, and a gust between two
    samples), on (at 1-minute samples; a coarser mean hides the gusts that stop the turbine, so there from
    cut-out − ``restart_margin`` on) until it runs again, or the wind has dropped ``operating_margin`` below
    cut-out − ``restart_margin``, where it restarts (hysteresis; the margin again for the density). From the
    first sample up to the first that says otherwise, a wind inside that band counts as a storm that began
    before."""
    restart_margin = t.restart_margin
    wind = wind_speed.to_numpy(dtype="float64")  # NaN compares False: neither enters nor leaves
    still = stopped.reindex_like(wind_speed).to_numpy(dtype=bool)
    limit = cut_out.reindex(wind_speed.columns).to_numpy(dtype="float64")
    if period <= MINUTE:
        enter = (wind >= limit) | ((wind >= limit - t.operating_margin) & still)
    else:
        enter = wind >= limit - restart_margin
    leave = ~still | (wind < limit - restart_margin - t.operating_margin)
    # Each sample takes the state of the last one that enters or leaves, at or before it (a forward fill).
    marked = enter | leave
    last = np.maximum.accumulate(np.where(marked, np.arange(len(wind))[:, None], -1), axis=0)
    state = np.take_along_axis(enter, np.maximum(last, 0), axis=0)
    # Before the day's first mark the wind is in the band: a stop there may be one begun the day before.
    return pd.DataFrame(state | (last < 0), index=wind_speed.index, columns=wind_speed.columns)


def power_curve_flags(
    wind_speed: pd.DataFrame,
    power: pd.DataFrame,
    expected: pd.DataFrame,
    models: Mapping[str, TurbineModel],
    t: QualityThresholds,
    window: int,
    *,
    period: dt.timedelta = SAMPLE_PERIOD,
    curves: Mapping[str, BinnedCurve] | None = None,
    stop_wind: pd.DataFrame | None = None,
    iced: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The power-curve checks (the ``judges_curve`` entries of ``CHECKS``) by name: power judged against the
    wind and the ``expected`` power (at ``wind_speed``, through ``curves`` or the models) with the band of
    ``expected_band``; under- and over-performance must hold for at least half of the centred ``window``
    (samples). A stop is judged by ``stop_wind`` (default: the turbine's own wind), and where ``iced`` is
    True (its anemometer iced: ``icing``) it is "stopped, likely iced" rather than "stopped in wind". A
    sample with either value null is not judged."""
    turbines = list(wind_speed.columns)
    cut_in = pd.Series({n: models[n].cut_in for n in turbines})
    cut_out = pd.Series({n: models[n].cut_out for n in turbines})

    def operating(wind: pd.DataFrame) -> pd.DataFrame:
        return wind.ge(cut_in + t.operating_margin) & wind.le(cut_out - t.operating_margin)

    below_cut_in = wind_speed.lt(cut_in - t.below_cut_in_margin)
    producing = power.gt(t.power_near_zero)
    judged = wind_speed if stop_wind is None else stop_wind
    calm_again = ~storm_stop(judged, ~producing, cut_out, t, period)  # not a cut-out waiting to restart
    lower, upper = expected_band(wind_speed, expected, models, t, curves)
    low = operating(wind_speed) & calm_again & producing & power.lt(lower)
    high = ~below_cut_in & wind_speed.lt(cut_out) & power.gt(upper)
    stopped = operating(judged) & calm_again & power.le(t.power_near_zero)
    likely_iced = stopped & iced if iced is not None else stopped & False
    return {
        "stopped_in_wind": stopped & ~likely_iced,
        "stopped_iced": likely_iced,
        "under_performance": held(low, window),
        "over_performance": held(high, window),
        "power_without_wind": below_cut_in & producing,
    }


# --- the day every check sees ---------------------------------------------------------------------


@dataclass
class DayData:
    """One day of a farm as the checks see it: per variable a frame on the day's time grid, one column
    per turbine (absent rows and unusable values as NaN); which rows were present; where the source sent
    NaN or ±Infinity; the turbines' models; the thresholds and the sample period. What several checks
    need (the physical limits, the farm's reference, the expected power, the power-curve comparison) is
    computed once, when a check first asks for it."""

    data: dict[str, pd.DataFrame]
    present: pd.DataFrame  # columns: turbines
    non_finite: dict[str, pd.DataFrame]
    models: Mapping[str, TurbineModel]
    thresholds: QualityThresholds
    period: dt.timedelta = SAMPLE_PERIOD
    curves: Mapping[str, BinnedCurve] | None = field(default=None, repr=False)
    # Where the status log says the turbine is stopped or restricted (maintenance, an outage, a set-point):
    # power that the log explains is no fault of the data (``metrics.availability.EXPLAINED``).
    explained: pd.DataFrame | None = field(default=None, repr=False)
    # Each turbine's farm (None: one farm): a turbine's neighbours, the farm it is judged against, are its own
    # farm's turbines only.
    farms: Mapping[str, str | None] | None = field(default=None, repr=False)

    @property
    def turbines(self) -> list[str]:
        return list(self.present.columns)

    @property
    def variables(self) -> list[str]:
        return list(self.data)

    def samples(self, minutes: float, *, at_least: int = 1) -> int:
        """How many samples span ``minutes`` at this day's period (``samples_for``)."""
        return samples_for(minutes, self.period, at_least=at_least)

    def window(self, minutes: float, *, at_least: int = 1) -> int:
        """A centred window of ``minutes``: an odd number of samples."""
        return self.samples(minutes, at_least=at_least) | 1

    def of_models(self, attribute: str) -> pd.Series:
        """A model attribute (``cut_in``, ``cut_out``, ``rated_power``) per turbine."""
        return pd.Series({name: getattr(self.models[name], attribute) for name in self.turbines}, dtype="float64")

    @cached_property
    def out_of_range(self) -> dict[str, pd.DataFrame]:
        """Per variable: True where the value lies outside its physical limits (``range_flag``)."""
        limits = self.thresholds.ranges(self.of_models("rated_power"))
        return {v: range_flag(d, *limits.get(v, (-np.inf, np.inf))) for v, d in self.data.items()}

    @cached_property
    def farm(self) -> dict[str, pd.DataFrame]:
        """Per variable: the farm's reference of each turbine (``farm_reference``), out-of-range values
        left out; NaN for a lone turbine. The farm's wind is the median of the other turbines'
        anemometers or, where it is higher, the median of the wind the other producing turbines' power
        implies (``implied_wind``): where most of the farm's anemometers read low together (iced), the
        power says how hard the wind blows."""
        farm = {v: farm_reference(d.mask(self.out_of_range[v]), self.farms) for v, d in self.data.items()}
        if "wind_speed" in farm and self.implied_wind is not None:
            farm["wind_speed"] = np.fmax(farm["wind_speed"], farm_reference(self.implied_wind, self.farms))
        return farm

    @cached_property
    def implied_wind(self) -> pd.DataFrame | None:
        """The wind each producing turbine's power implies through its curve (``implied_wind``), power out
        of range left out; None without power."""
        power = self.data.get("power")
        if power is None:
            return None
        return implied_wind(power.mask(self.out_of_range["power"]), self.models, self.thresholds, self.curves)

    @cached_property
    def expected(self) -> pd.DataFrame | None:
        """Each turbine's expected power at its wind speed (``expected_power``); None without wind."""
        wind = self.data.get("wind_speed")
        return None if wind is None else expected_power(wind, self.models, self.curves)

    def at_rest(self, variable: str) -> pd.DataFrame | None:
        """Where a repeated or jumping value is no fault: idle power (a stop), a wind speed of a farm-wide
        calm; None for the other variables."""
        t = self.thresholds
        if variable == "power":
            return self.data["power"].le(t.power_near_zero)
        if variable == "wind_speed":
            calm = t.farm_calm_wind_speed
            return self.data["wind_speed"].le(calm) & self.farm["wind_speed"].le(calm)
        return None

    @cached_property
    def cold(self) -> pd.DataFrame:
        """Where ice can form: the turbine's ambient temperature (else the farm's) at or below
        ``icing_temperature``; nowhere without temperatures."""
        temperature = self.data.get("ambient_temperature")
        if temperature is None:
            return self.nothing
        own = temperature.mask(self.out_of_range["ambient_temperature"])
        return own.fillna(self.farm["ambient_temperature"]).le(self.thresholds.icing_temperature)

    @cached_property
    def wind_below_farm(self) -> pd.DataFrame:
        """``farm_wind_flag`` of the day: anemometers reading far below the farm's wind (``farm_wind`` when
        warm, ``icing`` when cold). An idle turbine (power ≤ ``power_near_zero``) while the farm's wind is
        below its cut-in plus ``operating_margin`` is excused from reading merely low."""
        t = self.thresholds
        wind, farm = self.data["wind_speed"], self.farm["wind_speed"]
        power = self.data.get("power")
        excused = None
        if power is not None:
            excused = power.le(t.power_near_zero) & farm.lt(self.of_models("cut_in") + t.operating_margin)
        window = self.window(t.farm_wind_minutes)
        return farm_wind_flag(
            wind, farm, t.farm_calm_wind_speed, t.farm_wind_dead, t.farm_wind_low, window, excused=excused
        )

    @cached_property
    def icing(self) -> pd.DataFrame:
        """Anemometers reading far below the farm's wind where ice can form (``icing``)."""
        return self.wind_below_farm & self.cold

    @cached_property
    def stop_wind(self) -> pd.DataFrame:
        """The wind a stop is judged by: the turbine's own, or the farm's where its own is missing, out of
        range or reads far below the farm's (an anemometer iced, or sunk in its stopped rotor's shadow)."""
        wind = self.data["wind_speed"]
        suspect = wind.isna() | self.out_of_range["wind_speed"] | self.wind_below_farm
        return wind.mask(suspect, self.farm["wind_speed"])

    @cached_property
    def power_curve(self) -> dict[str, pd.DataFrame]:
        """``power_curve_flags`` of the day: each power-curve check's flags by name."""
        window = self.window(self.thresholds.performance_minutes)
        flags = power_curve_flags(
            self.data["wind_speed"],
            self.data["power"],
            self.expected,
            self.models,
            self.thresholds,
            window,
            period=self.period,
            curves=self.curves,
            stop_wind=self.stop_wind,
            iced=self.icing,
        )
        if self.explained is not None:
            explained = self.explained.reindex(index=self.present.index, columns=self.turbines, fill_value=False)
            for name in ("stopped_in_wind", "stopped_iced", "under_performance"):
                flags[name] = flags[name] & ~explained
        return flags

    @cached_property
    def nothing(self) -> pd.DataFrame:
        """No flag anywhere: what a check that does not apply to a variable gives."""
        return pd.DataFrame(False, index=self.present.index, columns=self.present.columns)


# --- each check as the registry calls it: (day, variable) -> flags, a column per turbine ------------


def gap_check(day: DayData, variable: str) -> pd.DataFrame:
    return gap_flag(day.present)


def null_check(day: DayData, variable: str) -> pd.DataFrame:
    return null_flag(day.data[variable], day.present, day.non_finite[variable])


def non_finite_check(day: DayData, variable: str) -> pd.DataFrame:
    return day.non_finite[variable]


def range_check(day: DayData, variable: str) -> pd.DataFrame:
    return day.out_of_range[variable]


def frozen_check(day: DayData, variable: str) -> pd.DataFrame:
    t = day.thresholds
    samples = day.samples(t.frozen_minutes(variable), at_least=t.frozen_min_samples)
    deadband = t.frozen_temperature_deadband if variable == "ambient_temperature" else None
    return frozen_flag(
        day.data[variable], samples, exempt=day.at_rest(variable), farm=day.farm[variable], deadband=deadband
    )


def spike_check(day: DayData, variable: str) -> pd.DataFrame:
    t, data = day.thresholds, day.data[variable]
    spike = {
        "window": day.window(t.spike_window, at_least=t.spike_window_min_samples),
        "n_mads": t.spike_mads,
        "min_deviation": t.spike_min_deviation(variable),
    }
    farm_window = 2 * int(t.spike_farm_minutes // (day.period / MINUTE)) + 1
    flag = spike_flag(data, **spike, farm=day.farm[variable], farm_share=t.spike_farm_share, farm_window=farm_window)
    if variable == "power" and day.expected is not None:
        # A jump of power that the wind explains (a gust on the steep part of the curve, a cut-out) is no
        # spike: it must also stand out from the turbine's expected power. A stop is no spike, nor a drop
        # in a storm (a cut-out inside a 10-minute mean).
        storm = day.data["wind_speed"].ge(day.of_models("cut_out") - t.spike_storm_margin)
        flag &= spike_flag(data - day.expected, **spike) & ~day.at_rest(variable) & ~storm
    return flag


def farm_wind_check(day: DayData, variable: str) -> pd.DataFrame:
    return day.wind_below_farm & ~day.cold


def icing_check(day: DayData, variable: str) -> pd.DataFrame:
    return day.icing


def power_curve_check(name: str) -> Callable[[DayData, str], pd.DataFrame]:
    """The check ``name`` of ``power_curve_flags`` (all four are computed together, once a day)."""

    def check(day: DayData, variable: str) -> pd.DataFrame:
        return day.power_curve[name]

    check.__name__ = f"{name}_check"
    return check


# --- the registry: every check declared once ---------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One quality check, declared once: everything else (``check_day``, the flag counts, the report's
    colours and tables, ``etl check``, the docs' checks table) derives from its entry in ``CHECKS``.

    ``flag(day, variable)`` returns True where a sample is suspect, one column per turbine;
    ``variables`` are the variables it can flag (None: every one), ``needs`` the others it reads;
    ``thresholds`` the ``QualityThresholds`` fields it reads and ``rule`` its threshold as a sentence;
    ``shaded`` checks are drawn as shaded spans (a missing value has no height to mark), the others as
    markers; ``judges_curve`` checks compare power with the curve, so a curve fitted on history ignores them.
    """

    name: str
    flag: Callable[[DayData, str], pd.DataFrame]
    description: str
    rule: Callable[[QualityThresholds], str]
    colour: str
    variables: tuple[str, ...] | None = None
    needs: tuple[str, ...] = ()
    thresholds: tuple[str, ...] = ()
    shaded: bool = False
    judges_curve: bool = False

    def applies_to(self, variable: str, available: Iterable[str] | None = None) -> bool:
        """Whether it can flag ``variable`` when the data has the ``available`` variables (default: all)."""
        if self.variables is not None and variable not in self.variables:
            return False
        return available is None or set(self.needs) <= set(available)


class CheckRegistry(Sequence[Check]):
    """The checks in the order the reports list them; ``CHECKS["spike"]`` finds one by name."""

    def __init__(self, checks: Iterable[Check]) -> None:
        self._checks: list[Check] = []
        for check in checks:
            self.register(check)

    def __len__(self) -> int:
        return len(self._checks)

    def __getitem__(self, key):
        if isinstance(key, str):
            for check in self._checks:
                if check.name == key:
                    return check
            raise KeyError(key)
        return self._checks[key]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(check.name for check in self._checks)

    def of(self, variable: str, available: Iterable[str] | None = None) -> tuple[str, ...]:
        """The names of the checks that can flag ``variable`` (with the ``available`` variables), in order."""
        available = None if available is None else tuple(available)
        return tuple(check.name for check in self._checks if check.applies_to(variable, available))

    def register(self, check: Check) -> Check:
        """Add a check at the end; its name must be new and its thresholds fields of ``QualityThresholds``."""
        if check.name in self.names:
            raise ValueError(f"A quality check named {check.name!r} is already registered.")
        unknown = [name for name in check.thresholds if name not in QualityThresholds.model_fields]
        if unknown:
            raise ValueError(
                f"The check {check.name!r} reads thresholds QualityThresholds lacks: {', '.join(unknown)}."
            )
        self._checks.append(check)
        return check

    @contextmanager
    def added(self, check: Check) -> Iterator[Check]:
        """``check`` registered inside the block only (tests, a notebook trying a check out)."""
        self.register(check)
        try:
            yield check
        finally:
            self._checks.remove(check)


def _lower(t: QualityThresholds) -> str:
    return (
        f"{1 - t.band_fraction:g} × expected − {t.band_power:g} kW (expected: the curve at the wind, or at "
        f"{1 - t.band_wind:g} × it where lower)"
    )


def _upper(t: QualityThresholds) -> str:
    return (
        f"{1 + t.band_fraction:g} × expected + {t.band_power:g} kW (expected: the curve at the wind, or at "
        f"{1 + t.band_wind:g} × it where higher)"
    )


def _farm_wind(t: QualityThresholds) -> str:
    return (
        f"the farm's wind (the median of the other turbines' anemometers or, where higher, of the wind their "
        f"power implies) > {t.farm_calm_wind_speed:g} m/s and the wind < {t.farm_wind_dead:g} × it, or < "
        f"{t.farm_wind_low:g} × it for at least half of a centred {t.farm_wind_minutes:g}-minute window (not "
        f"an idle turbine, ≤ {t.power_near_zero:g} kW, while the farm's wind is below its cut-in + "
        f"{t.operating_margin:g} m/s)"
    )


def _operating(t: QualityThresholds) -> str:
    return f"between cut-in + {t.operating_margin:g} and cut-out − {t.operating_margin:g} m/s"


def _storm(t: QualityThresholds) -> str:
    return (
        f"not in a storm stop (from cut-out, or cut-out − {t.restart_margin:g} m/s in 10-minute means, until the "
        f"wind is below cut-out − {t.restart_margin:g} m/s)"
    )


def _held(t: QualityThresholds) -> str:
    return f"for at least half of a centred {t.performance_minutes:g}-minute window"


_CURVE = ("power_near_zero", "operating_margin", "below_cut_in_margin", "band_fraction", "band_power", "band_wind")
# What the farm's wind (anemometers, and the wind the power implies) and the judging of a reading against it read.
_FARM_WIND = (
    "farm_calm_wind_speed",
    "farm_wind_dead",
    "farm_wind_low",
    "farm_wind_minutes",
    "power_near_zero",
    "operating_margin",
    "band_fraction",
    "band_power",
    "band_wind",
    "icing_temperature",
)
# What judging a stop reads: its own wind (in range) or the farm's.
_STOP = (*_FARM_WIND, "wind_speed_min", "wind_speed_max")

CHECKS = CheckRegistry(
    [
        Check(
            "gap",
            gap_check,
            "expected timestamp absent from the source",
            lambda t: "every timestamp of the UTC day at the sample period is expected",
            colour="tab:gray",
            shaded=True,
        ),
        Check(
            "null",
            null_check,
            "timestamp present, value null",
            lambda t: "any null value",
            colour="black",
            shaded=True,
        ),
        Check(
            "non_finite",
            non_finite_check,
            "value is NaN or ±Infinity: not a reading",
            lambda t: "any NaN, +Infinity or −Infinity",
            colour="tab:brown",
        ),
        Check(
            "range",
            range_check,
            "value outside the physical range",
            lambda t: (
                f"wind speed outside [{t.wind_speed_min:g}, {t.wind_speed_max:g}] m/s; power outside "
                f"[{t.power_min:g} kW, {t.power_max_factor:g} × rated]; ambient temperature outside "
                f"[{t.ambient_temperature_min:g}, {t.ambient_temperature_max:g}] °C"
            ),
            colour="tab:red",
            thresholds=(
                "wind_speed_min",
                "wind_speed_max",
                "power_min",
                "power_max_factor",
                "ambient_temperature_min",
                "ambient_temperature_max",
            ),
        ),
        Check(
            "frozen",
            frozen_check,
            "the same value for a while, unless the farm holds still too (a farm-wide calm, a still night)",
            lambda t: (
                f"one value for ≥ {t.frozen_wind_speed:g} min (wind), {t.frozen_power:g} min (power, not "
                f"idle), {t.frozen_ambient_temperature:g} min (temperature), and ≥ {t.frozen_min_samples} samples; "
                f"not where the farm's median holds still too, nor wind where it and the farm's are ≤ "
                f"{t.farm_calm_wind_speed:g} m/s, nor temperature where the farm's stays within "
                f"±{t.frozen_temperature_deadband:g} °C over the run"
            ),
            colour="tab:purple",
            thresholds=(
                "frozen_wind_speed",
                "frozen_power",
                "frozen_ambient_temperature",
                "frozen_min_samples",
                "frozen_temperature_deadband",
                "power_near_zero",
                "farm_calm_wind_speed",
            ),
        ),
        Check(
            "spike",
            spike_check,
            "far from the rolling median of its neighbours in time (robust, median/MAD), unless the farm "
            "jumps too (a gust front, a grid event)",
            lambda t: (
                f"|x − median| over {t.spike_window:g} min (≥ {t.spike_window_min_samples} samples) > "
                f"max({t.spike_mads:g}·1.4826·MAD, {t.spike_min_wind_speed:g} m/s | {t.spike_min_power:g} kW | "
                f"{t.spike_min_ambient_temperature:g} °C); not where the farm's median jumps the same way by ≥ "
                f"{t.spike_farm_share:g} of it within ±{t.spike_farm_minutes:g} min; power: not a stop (idle), "
                f"not from cut-out − {t.spike_storm_margin:g} m/s on, nor a jump the wind explains"
            ),
            colour="tab:orange",
            thresholds=(
                "spike_window",
                "spike_window_min_samples",
                "spike_mads",
                "spike_min_wind_speed",
                "spike_min_power",
                "spike_min_ambient_temperature",
                "spike_storm_margin",
                "spike_farm_share",
                "spike_farm_minutes",
                "power_near_zero",
            ),
        ),
        Check(
            "farm_wind",
            farm_wind_check,
            "the anemometer reads (near) zero while the farm's wind blows (dead or stuck), or far less for a "
            "while (misaligned, biased); the farm's wind is the other turbines' anemometers, or the wind "
            "their power implies where most anemometers read low together",
            lambda t: f"{_farm_wind(t)}; above {t.icing_temperature:g} °C (at or below: icing)",
            colour="tab:cyan",
            variables=("wind_speed",),
            thresholds=_FARM_WIND,
        ),
        Check(
            "icing",
            icing_check,
            "the anemometer reads far below the farm's wind near or below freezing: iced (most of a farm's "
            "anemometers iced together: the farm's wind is the one its producing turbines' power implies)",
            lambda t: (
                f"as farm_wind, at or below {t.icing_temperature:g} °C (the turbine's temperature, else the farm's)"
            ),
            colour="deepskyblue",
            variables=("wind_speed",),
            needs=("ambient_temperature",),
            thresholds=_FARM_WIND,
        ),
        Check(
            "stopped_in_wind",
            power_curve_check("stopped_in_wind"),
            "no power while the wind is well inside the operating range, not a storm stop waiting to restart: the "
            "turbine's own wind, or the farm's where its own anemometer is missing or reads far below the farm's "
            "(it sank with the stop)",
            lambda t: (
                f"≤ {t.power_near_zero:g} kW {_operating(t)} of its own wind, or of the farm's where its own is "
                f"missing, out of range or flagged farm_wind or icing; {_storm(t)}; not where it is stopped_iced"
            ),
            colour="tab:olive",
            variables=("power",),
            needs=("wind_speed",),
            thresholds=(*_STOP, "restart_margin"),
            judges_curve=True,
        ),
        Check(
            "stopped_iced",
            power_curve_check("stopped_iced"),
            "stopped in wind, likely iced: no power while the farm's wind is well inside the operating range, "
            "its own anemometer iced (icing)",
            lambda t: (
                f"≤ {t.power_near_zero:g} kW while the farm's wind is {_operating(t)} and the wind speed is "
                f"flagged icing (≤ {t.icing_temperature:g} °C)"
            ),
            colour="steelblue",
            variables=("power",),
            needs=("wind_speed", "ambient_temperature"),
            thresholds=(*_STOP, "restart_margin"),
            judges_curve=True,
        ),
        Check(
            "under_performance",
            power_curve_check("under_performance"),
            "power below the band around the expected power for a while (curtailment, a derating cap)",
            lambda t: f"> {t.power_near_zero:g} kW but below {_lower(t)}, {_operating(t)}, {_held(t)}, {_storm(t)}",
            colour="tab:green",
            variables=("power",),
            needs=("wind_speed",),
            thresholds=(*_CURVE, "restart_margin", "performance_minutes"),
            judges_curve=True,
        ),
        Check(
            "over_performance",
            power_curve_check("over_performance"),
            "power above the band around the expected power for a while (an iced or faulty anemometer reading low)",
            lambda t: f"above {_upper(t)} from cut-in − {t.below_cut_in_margin:g} m/s to cut-out, {_held(t)}",
            colour="tab:pink",
            variables=("power",),
            needs=("wind_speed",),
            thresholds=(*_CURVE, "performance_minutes"),
            judges_curve=True,
        ),
        Check(
            "power_without_wind",
            power_curve_check("power_without_wind"),
            "power produced while the wind is below cut-in",
            lambda t: f"> {t.power_near_zero:g} kW below cut-in − {t.below_cut_in_margin:g} m/s",
            colour="tab:blue",
            variables=("power",),
            needs=("wind_speed",),
            thresholds=("power_near_zero", "below_cut_in_margin"),
            judges_curve=True,
        ),
    ]
)


# --- all checks over one day of a farm ----------------------------------------------------------------


def expected_timestamps(
    scope: RunScope, period: dt.timedelta = SAMPLE_PERIOD, offset: dt.timedelta = dt.timedelta(0)
) -> pd.DatetimeIndex:
    """Every timestamp of the UTC day at ``period`` from midnight plus ``offset``: what a complete
    source delivers."""
    return pd.date_range(scope.start + offset, scope.end, freq=period, inclusive="left", name="timestamp")


def grid_offset(timestamps: pd.Index, start: dt.datetime, period: dt.timedelta) -> dt.timedelta:
    """The most common offset of ``timestamps`` from the ``period`` grid that starts at ``start``
    (0 for an empty index): a 10-minute export stamped at :05, :15, ... has offset 5 minutes."""
    if not len(timestamps):
        return dt.timedelta(0)
    offsets = (pd.DatetimeIndex(timestamps) - pd.Timestamp(start)) % pd.Timedelta(period)
    return offsets.value_counts().index[0].to_pytimedelta()


@dataclass
class QualityResult:
    """The flags of one day: ``flags`` has columns ``(turbine, variable, check)`` on the time grid;
    ``grid`` the samples on that grid, columns ``(turbine, variable)`` (absent rows and unusable values
    as NaN); ``present`` whether each turbine's row was in the source; ``farm`` the farm's reference
    (median of the other turbines) per ``(turbine, variable)``, NaN for a lone turbine; ``expected``
    each turbine's expected power; ``period`` the sample period."""

    thresholds: QualityThresholds
    grid: pd.DataFrame
    present: pd.DataFrame  # columns: turbines
    flags: pd.DataFrame
    period: dt.timedelta = SAMPLE_PERIOD
    farm: pd.DataFrame | None = field(default=None, repr=False)
    expected: pd.DataFrame | None = field(default=None, repr=False)
    farms: Mapping[str, str | None] | None = field(default=None, repr=False)  # each turbine's farm (None: one)

    @property
    def turbines(self) -> list[str]:
        return list(self.present.columns)

    @property
    def variables(self) -> list[str]:
        return list(dict.fromkeys(self.grid.columns.get_level_values("variable")))

    def suspect(self, checks: Iterable[str] | None = None) -> pd.DataFrame:
        """Per (turbine, variable): True where the sample is missing or any check (of ``checks``, default
        all) flagged it."""
        return summaries.suspect(self.flags, self.grid.columns, checks)

    # A result is not changed once made: what is derived from the whole of it is computed once (the
    # run record, the report and Dagster each ask for it; 100 turbines make that tens of milliseconds).

    def good(self) -> pd.DataFrame:
        """Per (turbine, variable): True where the sample is present, usable and passes every check."""
        return self._good

    @cached_property
    def _good(self) -> pd.DataFrame:
        return ~self.suspect()

    def flag_counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{turbine: {check: {variable: samples flagged}}}`` for every check and variable (zeros included)."""
        return self._flag_counts

    @cached_property
    def _flag_counts(self) -> dict[str, dict[str, dict[str, int]]]:
        return summaries.flag_counts(self.flags, self.turbines, self.variables, CHECKS.names)

    def day_quality(self) -> dict[str, dict[str, float]]:
        """``{turbine: {variable: share of the day's expected samples that are good}}``."""
        return self._day_quality

    @cached_property
    def _day_quality(self) -> dict[str, dict[str, float]]:
        return summaries.day_quality(self.good())


def check_day(
    samples: pd.DataFrame,
    non_finite: pd.DataFrame,
    scope: RunScope,
    models: Mapping[str, TurbineModel],
    thresholds: QualityThresholds | dict | None = None,
    *,
    period: dt.timedelta = SAMPLE_PERIOD,
    curves: Mapping[str, BinnedCurve] | None = None,
    explained: pd.DataFrame | None = None,
    farms: Mapping[str, str | None] | None = None,
) -> QualityResult:
    """Run every check over the day's samples of the scope's turbines.

    ``samples``: index ``(turbine, timestamp)``, one float column per variable (NaN where null or not a
    finite number); ``non_finite``: the same shape, True where the source sent NaN or ±Infinity;
    ``period``: the sample period (the ETL's 1 minute, or a file's); ``curves``: expected power per
    turbine fitted on its history (``fit_curves``), else each model's curve; ``explained``: where the status
    log says a turbine is stopped or restricted (time x turbine), so that its power there is no fault;
    ``farms``: each turbine's farm, when the samples are of more than one (a turbine is judged only against its
    own farm's; a run is one farm's day, so the ETL's samples are of one).
    """
    t = thresholds_from(thresholds)
    turbines = list(scope.turbines or samples.index.get_level_values("turbine").unique())
    stamps = samples.index.get_level_values("timestamp").unique()
    expected_times = expected_timestamps(scope, period, grid_offset(stamps, scope.start, period))
    times = expected_times.union(stamps)
    columns = pd.MultiIndex.from_product([turbines, samples.columns], names=["turbine", "variable"])
    grid = samples.unstack("turbine").swaplevel(axis=1).reindex(index=times, columns=columns)
    grid.index.name = "timestamp"
    bad = non_finite.unstack("turbine").swaplevel(axis=1).reindex(index=times, columns=columns)
    bad = bad.fillna(0).astype(bool)  # a turbine without samples: its columns are all NaN (float)
    present = (pd.Series(True, index=samples.index).unstack("turbine").reindex(index=times, columns=turbines)).notna()
    present.columns.name = "turbine"
    variables = list(samples.columns)
    day = DayData(
        data={v: grid.xs(v, axis=1, level="variable") for v in variables},
        present=present,
        non_finite={v: bad.xs(v, axis=1, level="variable") for v in variables},
        models=models,
        thresholds=t,
        period=period,
        curves=curves,
        explained=explained,
        farms=farms,
    )
    parts: dict[tuple[str, str], pd.DataFrame] = {}  # (variable, check): a column per turbine
    for variable in variables:
        for check in CHECKS:
            flags = check.flag(day, variable) if check.applies_to(variable, variables) else day.nothing
            parts[(variable, check.name)] = flags[turbines]
    frame = pd.concat(parts, axis=1, names=["variable", "check", "turbine"])
    frame = frame.reorder_levels(["turbine", "variable", "check"], axis=1).astype(bool)
    farm_grid = pd.concat(day.farm, axis=1, names=["variable", "turbine"]).swaplevel(axis=1)[columns]
    return QualityResult(
        thresholds=t,
        grid=grid,
        present=present,
        flags=frame,
        period=period,
        farm=farm_grid,
        expected=day.expected,
        farms=farms,
    )


def fit_curves(
    results: Iterable[QualityResult],
    models: Mapping[str, TurbineModel],
    thresholds: QualityThresholds | dict | None = None,
) -> dict[str, BinnedCurve]:
    """Each turbine's expected power fitted by the method of bins on its normal operation in ``results``
    (days checked with the models' curves): samples whose wind and power pass every check but the
    power-curve ones, producing (> ``power_near_zero``) between the model's cut-in and cut-out. A
    bin with less than ``curve_min_minutes`` of them keeps the model's curve. The median per bin
    shrugs off a minority of curtailed or derated samples."""
    t = thresholds_from(thresholds)
    sensor_checks = [check.name for check in CHECKS if not check.judges_curve]  # farm_wind included
    pairs: dict[str, list[pd.DataFrame]] = {}
    period = SAMPLE_PERIOD
    for result in results:
        period = result.period
        good = ~result.suspect(sensor_checks)
        for turbine in result.turbines:
            if (turbine, "power") not in result.grid.columns or (turbine, "wind_speed") not in result.grid.columns:
                continue
            model = models[turbine]
            wind, power = result.grid[(turbine, "wind_speed")], result.grid[(turbine, "power")]
            normal = (
                good[(turbine, "wind_speed")]
                & good[(turbine, "power")]
                & power.gt(t.power_near_zero)
                & wind.ge(model.cut_in)
                & wind.lt(model.cut_out)
            )
            pairs.setdefault(turbine, []).append(pd.DataFrame({"wind": wind[normal], "power": power[normal]}))
    curves = {}
    for turbine, parts in pairs.items():
        both = pd.concat(parts)
        curves[turbine] = BinnedCurve.fit(
            models[turbine],
            both["wind"],
            both["power"],
            period / MINUTE,
            bin_width=t.curve_bin_width,
            min_minutes=t.curve_min_minutes,
        )
    return curves
