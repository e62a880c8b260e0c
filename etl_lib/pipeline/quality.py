"""Quality checks on the samples of a farm, in the style of OpenOA's ``filters.py``.

Each check is a small pure function that returns boolean flags (True = suspect) with its
thresholds as named arguments; it works on a frame of one variable, one column per turbine, so a
farm is checked in one vectorised pass. Flags, not deletions: the statistics still use every
finite non-null sample; the verdict is stored beside them as ``<variable>_count`` and
``<variable>_quality``.

Thresholds are times, not sample counts, so 1-minute and 10-minute data are judged alike; the
sample period is given (the ETL's contract: 1 minute) or detected from a file. Where the scope
holds more than one turbine, each turbine is compared with the farm (the median of the other
turbines): what the whole farm does at once (a calm, a gust front, a grid event) is weather or the
grid, not a sensor fault, so the frozen and spike checks consult the farm before they flag, and
an anemometer reading (near) zero while the farm blows is flagged. A lone turbine is judged alone.

Power is judged against the turbine's expected power (``metrics.power_curve``: its model's curve,
corrected per wind-speed bin by its own history when the caller fitted one) with a band around it.
All default thresholds live in ``QualityThresholds``; rated power and curve come from the model.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core.contract import SAMPLE_PERIOD
from ..core.errors import ConfigurationError
from ..core.scope import RunScope
from ..core.turbines import TurbineModel
from ..metrics import quality as summaries
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

    below_cut_in_margin: float = Field(
        1.0, ge=0, description="m/s; 'below cut-in' means below the model's cut-in minus this"
    )
    operating_margin: float = Field(
        2.0,
        ge=0,
        description="m/s; 'well inside the operating range' keeps this distance from the model's cut-in and cut-out",
    )
    power_near_zero: float = Field(20.0, description="kW; at or below this the turbine is not producing")
    band_fraction: float = Field(0.15, ge=0, description="the band around the expected power: this share of it ...")
    band_power: float = Field(50.0, ge=0, description="... plus this many kW, on either side")
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


def farm_reference(data: pd.DataFrame) -> pd.DataFrame:
    """Per turbine, the median of the other turbines' values at each time: what the farm does. NaN
    where no other turbine has a value, so everywhere for a lone turbine.

    One sort per row instead of a median per turbine: the others' sorted values are the row's sorted
    values without the turbine's own, so their middle is read off at a shifted position.
    """
    values = data.to_numpy(dtype="float64")
    rows, columns = values.shape
    finite = np.isfinite(values)
    keyed = np.where(finite, values, np.inf)  # missing values sort last
    order = np.argsort(keyed, axis=1, kind="stable")
    ordered = np.take_along_axis(keyed, order, axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(columns), (rows, columns)), axis=1)
    others = finite.sum(axis=1, keepdims=True) - finite  # finite values of the other turbines

    def other(position: np.ndarray) -> np.ndarray:  # the others' sorted value at ``position``
        skip_own = finite & (position >= rank)
        return np.take_along_axis(ordered, np.clip(position + skip_own, 0, columns - 1), axis=1)

    with np.errstate(invalid="ignore"):
        median = (other((others - 1) // 2) + other(others // 2)) / 2
    median[others < 1] = np.nan
    return pd.DataFrame(median, index=data.index, columns=data.columns)


def _run_lengths(data: pd.DataFrame) -> np.ndarray:
    """Per sample, how many samples its run of consecutive equal non-null values holds (0 for nulls)."""
    values = data.to_numpy(dtype="float64")
    rows, columns = values.shape
    same = np.zeros_like(values, dtype=bool)
    same[1:] = values[1:] == values[:-1]  # NaN never equals NaN: a null ends a run
    run = np.cumsum(~same, axis=0) + np.arange(columns) * (rows + 1)  # run ids unique across columns
    return np.where(np.isnan(values), 0, np.bincount(run.ravel())[run])


def frozen_flag(
    data: pd.DataFrame, min_samples: int, exempt: pd.DataFrame | None = None, farm: pd.DataFrame | None = None
) -> pd.DataFrame:
    """True on every sample of a run of ``min_samples`` or more consecutive equal non-null values.

    ``data`` must be on the regular time grid (gaps as nulls), so a gap ends a run. Samples where
    ``exempt`` is True (e.g. idle power, a farm-wide calm) never count; nor do those where ``farm``
    (the farm's reference, e.g. ``farm_reference``) is frozen as long too: the whole farm holding
    still is weather or a shared value, not one stuck sensor.
    """
    flag = pd.DataFrame(_run_lengths(data) >= min_samples, index=data.index, columns=data.columns)
    if farm is not None:
        flag &= ~(_run_lengths(farm) >= min_samples)
    return flag & ~exempt if exempt is not None else flag


def spike_flag(
    data: pd.DataFrame,
    window: int,
    n_mads: float,
    min_deviation: float,
    farm: pd.DataFrame | None = None,
    farm_share: float = 0.5,
    farm_window: int = 1,
) -> pd.DataFrame:
    """True where a sample is further from the median of the centred ``window`` (samples) than
    ``max(n_mads * 1.4826 * MAD, min_deviation)``; MAD is the rolling median absolute deviation.

    ``min_deviation`` keeps a very steady signal (MAD near 0) from flagging ordinary noise. With
    ``farm`` (the farm's reference), a jump is no spike where the farm's own deviation from its
    rolling median goes the same way by at least ``farm_share`` of it within the centred
    ``farm_window`` samples: a gust front or a grid event reaches every turbine.
    """
    rolling = dict(window=window, center=True, min_periods=window // 2 + 1)
    deviation = data - data.rolling(**rolling).median()
    mad = deviation.abs().rolling(**rolling).median()
    flag = deviation.abs() > np.maximum(n_mads * MAD_TO_STD * mad, min_deviation)
    if farm is None:
        return flag
    farm_deviation = farm - farm.rolling(**rolling).median()
    near = dict(window=farm_window, center=True, min_periods=1)
    up, down = farm_deviation.rolling(**near).max(), farm_deviation.rolling(**near).min()
    shared = (deviation.gt(0) & up.ge(farm_share * deviation)) | (deviation.lt(0) & down.le(farm_share * deviation))
    return flag & ~shared


def farm_wind_flag(
    wind_speed: pd.DataFrame, farm_wind: pd.DataFrame, calm: float, dead: float, low: float, window: int
) -> pd.DataFrame:
    """True where the farm blows (its reference wind above ``calm``) and the turbine's anemometer reads
    less than ``dead`` times that (dead or stuck), or less than ``low`` times that for at least half of
    the centred ``window`` samples (biased: iced, misaligned). False where the farm's wind is unknown
    (a lone turbine)."""
    blowing = farm_wind.gt(calm)
    return blowing & (wind_speed.lt(dead * farm_wind) | held(wind_speed.lt(low * farm_wind), window))


def expected_power(
    wind_speed: pd.DataFrame, models: Mapping[str, TurbineModel], curves: Mapping[str, BinnedCurve] | None = None
) -> pd.DataFrame:
    """Each turbine's expected power at its measured wind speed (kW; 0 when not producing): its fitted
    curve from ``curves`` when given, else its model's curve."""
    curves = curves or {}
    return pd.DataFrame(
        {
            turbine: (curves.get(turbine) or models[turbine]).power(wind_speed[turbine].to_numpy())
            for turbine in wind_speed.columns
        },
        index=wind_speed.index,
    )


def held(flag: pd.DataFrame, window: int, share: float = 0.5) -> pd.DataFrame:
    """``flag`` where it is True on at least ``share`` of the samples of the centred ``window``: a
    state held for a while, not a passing fluctuation."""
    return flag & flag.astype("float64").rolling(window=window, center=True, min_periods=1).mean().ge(share)


def power_curve_flags(
    wind_speed: pd.DataFrame,
    power: pd.DataFrame,
    expected: pd.DataFrame,
    models: Mapping[str, TurbineModel],
    t: QualityThresholds,
    window: int,
) -> dict[str, pd.DataFrame]:
    """The power-curve checks (the ``judges_curve`` entries of ``CHECKS``) by name: power judged against the wind and the
    ``expected`` power with the band ``± (band_fraction x expected + band_power)``; under- and
    over-performance must hold for at least half of the centred ``window`` (samples). A sample with
    either value null is not judged."""
    turbines = list(wind_speed.columns)
    cut_in = pd.Series({n: models[n].cut_in for n in turbines})
    cut_out = pd.Series({n: models[n].cut_out for n in turbines})
    below_cut_in = wind_speed.lt(cut_in - t.below_cut_in_margin)
    operating = wind_speed.ge(cut_in + t.operating_margin) & wind_speed.le(cut_out - t.operating_margin)
    producing = power.gt(t.power_near_zero)
    band = t.band_fraction * expected + t.band_power
    low = operating & producing & power.lt(expected - band)
    high = ~below_cut_in & wind_speed.lt(cut_out) & power.gt(expected + band)
    return {
        "stopped_in_wind": operating & power.le(t.power_near_zero),
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
        left out; NaN for a lone turbine."""
        return {v: farm_reference(d.mask(self.out_of_range[v])) for v, d in self.data.items()}

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
    def power_curve(self) -> dict[str, pd.DataFrame]:
        """``power_curve_flags`` of the day: each power-curve check's flags by name."""
        window = self.window(self.thresholds.performance_minutes)
        return power_curve_flags(
            self.data["wind_speed"], self.data["power"], self.expected, self.models, self.thresholds, window
        )

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
    return frozen_flag(day.data[variable], samples, exempt=day.at_rest(variable), farm=day.farm[variable])


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
    t = day.thresholds
    window = day.window(t.farm_wind_minutes)
    return farm_wind_flag(
        day.data[variable], day.farm[variable], t.farm_calm_wind_speed, t.farm_wind_dead, t.farm_wind_low, window
    )


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


def _band(t: QualityThresholds) -> str:
    return f"({t.band_fraction:g} × expected + {t.band_power:g} kW)"


def _operating(t: QualityThresholds) -> str:
    return f"between cut-in + {t.operating_margin:g} and cut-out − {t.operating_margin:g} m/s"


def _held(t: QualityThresholds) -> str:
    return f"for at least half of a centred {t.performance_minutes:g}-minute window"


_CURVE = ("power_near_zero", "operating_margin", "below_cut_in_margin", "band_fraction", "band_power")

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
            "the same value for a while, unless the farm holds still too (a farm-wide calm)",
            lambda t: (
                f"one value for ≥ {t.frozen_wind_speed:g} min (wind), {t.frozen_power:g} min (power, not "
                f"idle), {t.frozen_ambient_temperature:g} min (temperature), and ≥ {t.frozen_min_samples} samples; "
                f"not where the farm's median holds still too, nor wind where it and the farm's are ≤ "
                f"{t.farm_calm_wind_speed:g} m/s"
            ),
            colour="tab:purple",
            thresholds=(
                "frozen_wind_speed",
                "frozen_power",
                "frozen_ambient_temperature",
                "frozen_min_samples",
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
            "the anemometer reads (near) zero while the other turbines' wind blows (dead or stuck), or far "
            "less for a while (iced, misaligned)",
            lambda t: (
                f"while the farm's median wind is > {t.farm_calm_wind_speed:g} m/s: wind < "
                f"{t.farm_wind_dead:g} × it, or < {t.farm_wind_low:g} × it for at least half of a centred "
                f"{t.farm_wind_minutes:g}-minute window"
            ),
            colour="tab:cyan",
            variables=("wind_speed",),
            thresholds=("farm_calm_wind_speed", "farm_wind_dead", "farm_wind_low", "farm_wind_minutes"),
        ),
        Check(
            "stopped_in_wind",
            power_curve_check("stopped_in_wind"),
            "no power while the wind is well inside the operating range",
            lambda t: f"≤ {t.power_near_zero:g} kW {_operating(t)}",
            colour="tab:olive",
            variables=("power",),
            needs=("wind_speed",),
            thresholds=("power_near_zero", "operating_margin"),
            judges_curve=True,
        ),
        Check(
            "under_performance",
            power_curve_check("under_performance"),
            "power below the band around the expected power for a while (curtailment, a derating cap)",
            lambda t: f"> {t.power_near_zero:g} kW but below expected − {_band(t)} {_operating(t)}, {_held(t)}",
            colour="tab:green",
            variables=("power",),
            needs=("wind_speed",),
            thresholds=(*_CURVE, "performance_minutes"),
            judges_curve=True,
        ),
        Check(
            "over_performance",
            power_curve_check("over_performance"),
            "power above the band around the expected power for a while (an iced or faulty anemometer reading low)",
            lambda t: f"above expected + {_band(t)} from cut-in − {t.below_cut_in_margin:g} m/s to cut-out, {_held(t)}",
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
) -> QualityResult:
    """Run every check over the day's samples of the scope's turbines.

    ``samples``: index ``(turbine, timestamp)``, one float column per variable (NaN where null or not a
    finite number); ``non_finite``: the same shape, True where the source sent NaN or ±Infinity;
    ``period``: the sample period (the ETL's 1 minute, or a file's); ``curves``: expected power per
    turbine fitted on its history (``fit_curves``), else each model's curve.
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
        thresholds=t, grid=grid, present=present, flags=frame, period=period, farm=farm_grid, expected=day.expected
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
