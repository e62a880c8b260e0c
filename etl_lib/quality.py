"""Quality checks on the 1-minute input, in the style of OpenOA's ``filters.py``.

Each check is a small pure function that returns a boolean flag per sample (True = suspect),
with its threshold as a named argument. Flags, not deletions: the statistics still use every
non-null sample; the verdict is stored beside them as ``<variable>_count`` and
``<variable>_quality``. All default thresholds live in ``QualityThresholds``; the notebook
overrides them through its ``thresholds`` parameter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .dates import day_bounds
from .errors import ConfigurationError
from .generator import POWER_CURVE, PowerCurve

SAMPLE_PERIOD = pd.Timedelta(minutes=1)
CHECKS: tuple[str, ...] = ("gap", "null", "range", "frozen", "spike", "power_curve")
CHECK_DESCRIPTIONS = {
    "gap": "expected 1-minute timestamp absent from the source",
    "null": "timestamp present, value null",
    "range": "value outside the physical range",
    "frozen": "the same value for N or more consecutive samples",
    "spike": "far from the rolling median of its neighbours (robust, median/MAD)",
    "power_curve": "power inconsistent with the wind speed and the reference power curve",
}
# MAD of a normal distribution times this is its standard deviation.
MAD_TO_STD = 1.4826


class QualityThresholds(BaseModel):
    """Every threshold of the checks, in one place. Defaults fit the project's 2 MW turbine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wind_speed_min: float = Field(0.0, description="m/s; lower physical limit of the anemometer")
    wind_speed_max: float = Field(40.0, description="m/s; upper physical limit")
    power_min: float = Field(-50.0, description="kW; more consumption than this is impossible for an idle turbine")
    power_max_factor: float = Field(1.1, description="power above this times rated power is impossible")
    ambient_temperature_min: float = Field(-40.0, description="°C")
    ambient_temperature_max: float = Field(60.0, description="°C")

    frozen_wind_speed: int = Field(10, ge=2, description="samples (minutes) of one repeated value")
    frozen_power: int = Field(10, ge=2, description="samples; idle power (≤ power_near_zero) never counts")
    frozen_ambient_temperature: int = Field(30, ge=2, description="samples; temperature changes slowly")

    spike_window: int = Field(11, ge=3, description="samples in the centred rolling window")
    spike_mads: float = Field(6.0, gt=0, description="allowed distance from the median, in robust std (1.4826 MAD)")
    spike_min_wind_speed: float = Field(5.0, ge=0, description="m/s; a smaller deviation is never a spike")
    spike_min_power: float = Field(400.0, ge=0, description="kW; a smaller deviation is never a spike")
    spike_min_ambient_temperature: float = Field(3.0, ge=0, description="°C; a smaller deviation is never a spike")

    rated_power: float = Field(POWER_CURVE.rated_power, gt=0, description="kW; of the reference power curve")
    cut_in: float = Field(POWER_CURVE.cut_in, description="m/s; of the reference power curve")
    rated_speed: float = Field(POWER_CURVE.rated_speed, description="m/s; of the reference power curve")
    cut_out: float = Field(POWER_CURVE.cut_out, description="m/s; of the reference power curve")
    below_cut_in_margin: float = Field(1.0, ge=0, description="m/s; 'below cut-in' means below cut_in minus this")
    operating_margin: float = Field(2.0, ge=0, description="m/s; 'well inside the operating range' keeps this "
                                    "distance from cut_in and cut_out")
    power_near_zero: float = Field(20.0, description="kW; at or below this the turbine is not producing")
    max_shortfall: float = Field(0.3, gt=0, description="power below the curve by more than this times rated")

    @property
    def power_max(self) -> float:
        return self.power_max_factor * self.rated_power

    def ranges(self) -> dict[str, tuple[float, float]]:
        return {
            "wind_speed": (self.wind_speed_min, self.wind_speed_max),
            "power": (self.power_min, self.power_max),
            "ambient_temperature": (self.ambient_temperature_min, self.ambient_temperature_max),
        }

    def frozen_samples(self, variable: str) -> int:
        return getattr(self, f"frozen_{variable}")

    def spike_min_deviation(self, variable: str) -> float:
        return getattr(self, f"spike_min_{variable}")

    def describe(self) -> dict[str, str]:
        """The threshold of each check as one line of text, for the report."""
        r = self.ranges()
        return {
            "gap": "every minute of the UTC day is expected",
            "null": "any null value",
            "range": "; ".join(f"{v} outside [{lo:g}, {hi:g}]" for v, (lo, hi) in r.items()),
            "frozen": f"≥ {self.frozen_wind_speed} (wind), {self.frozen_power} (power, not idle), "
            f"{self.frozen_ambient_temperature} (temperature) equal samples",
            "spike": f"|x − median{self.spike_window}| > max({self.spike_mads:g}·1.4826·MAD, "
            f"{self.spike_min_wind_speed:g} m/s | {self.spike_min_power:g} kW | {self.spike_min_ambient_temperature:g} °C)",
            "power_curve": f"> {self.power_near_zero:g} kW below {self.cut_in - self.below_cut_in_margin:g} m/s; "
            f"≤ {self.power_near_zero:g} kW or more than {self.max_shortfall * self.rated_power:g} kW below the curve "
            f"within [{self.cut_in + self.operating_margin:g}, {self.cut_out - self.operating_margin:g}] m/s",
        }


def thresholds_from(overrides: dict | QualityThresholds | None) -> QualityThresholds:
    """Thresholds with ``overrides`` (e.g. the notebook parameter) applied; a clear error for a bad one."""
    if isinstance(overrides, QualityThresholds):
        return overrides
    if overrides is not None and not isinstance(overrides, dict):
        raise ConfigurationError(
            f"Quality threshold overrides must be a mapping of name to number, not {type(overrides).__name__} "
            f"{overrides!r}.",
            "Pass e.g. {'frozen_wind_speed': 15} (papermill: -y 'thresholds: {frozen_wind_speed: 15}').",
        )
    try:
        return QualityThresholds(**(overrides or {}))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'thresholds'}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(
            f"Quality threshold override(s) {overrides!r} are invalid: {problems}.",
            f"Use only these names with numbers: {', '.join(QualityThresholds.model_fields)}.",
        ) from None


# --- the checks: pure functions, one flag per sample --------------------------------------------


def gap_flag(present: pd.DatetimeIndex, expected: pd.DatetimeIndex) -> pd.Series:
    """True at each expected timestamp that is absent from ``present``."""
    return pd.Series(~expected.isin(present), index=expected)


def null_flag(data: pd.Series, present: pd.DatetimeIndex) -> pd.Series:
    """True where the timestamp is present but the value is null (absent ones are gaps, not nulls)."""
    return data.isna() & data.index.isin(present)


def range_flag(data: pd.Series, lower: float, upper: float) -> pd.Series:
    """True where the value lies outside ``[lower, upper]``; nulls are not flagged."""
    return (data < lower) | (data > upper)


def frozen_flag(data: pd.Series, min_samples: int, exempt: pd.Series | None = None) -> pd.Series:
    """True on every sample of a run of ``min_samples`` or more consecutive equal non-null values.

    ``data`` must be on the regular 1-minute grid (gaps as nulls), so a gap ends a run.
    Samples where ``exempt`` is True (e.g. idle power) never count as frozen.
    """
    run_id = data.ne(data.shift()).cumsum()
    run_length = data.groupby(run_id).transform("size")
    flag = data.notna() & (run_length >= min_samples)
    return flag & ~exempt if exempt is not None else flag


def spike_flag(data: pd.Series, window: int, n_mads: float, min_deviation: float) -> pd.Series:
    """True where a sample is further from the median of the centred ``window`` than
    ``max(n_mads * 1.4826 * MAD, min_deviation)``; MAD is the rolling median absolute deviation.

    ``min_deviation`` keeps a very steady signal (MAD near 0) from flagging ordinary noise.
    """
    rolling = dict(window=window, center=True, min_periods=window // 2 + 1)
    median = data.rolling(**rolling).median()
    deviation = (data - median).abs()
    mad = deviation.rolling(**rolling).median()
    limit = np.maximum(n_mads * MAD_TO_STD * mad, min_deviation)
    return deviation > limit


def reference_power(wind_speed: pd.Series | np.ndarray, t: QualityThresholds) -> np.ndarray:
    """The reference power curve (kW) at ``wind_speed`` for the thresholds' turbine, 0 when not producing."""
    curve = PowerCurve(
        cut_in=t.cut_in, rated_speed=t.rated_speed, cut_out=t.cut_out, rated_power=t.rated_power, standby_power=0.0
    )
    return curve.power(wind_speed)


def power_curve_flag(wind_speed: pd.Series, power: pd.Series, t: QualityThresholds) -> pd.Series:
    """True where power contradicts the wind: producing (> ``power_near_zero``) below
    ``cut_in - below_cut_in_margin``, or not producing / more than ``max_shortfall`` x rated
    below the reference curve within ``[cut_in, cut_out]`` narrowed by ``operating_margin``
    (e.g. curtailment). A sample with either value null is not judged.
    """
    below_cut_in = wind_speed < t.cut_in - t.below_cut_in_margin
    operating = (wind_speed >= t.cut_in + t.operating_margin) & (wind_speed <= t.cut_out - t.operating_margin)
    expected = pd.Series(reference_power(wind_speed, t), index=wind_speed.index)
    producing_without_wind = below_cut_in & (power > t.power_near_zero)
    idle_in_wind = operating & (power <= t.power_near_zero)
    short = operating & (power < expected - t.max_shortfall * t.rated_power)
    return producing_without_wind | idle_in_wind | short


# --- all checks over one day ----------------------------------------------------------------------


def expected_timestamps(run_date: dt.date) -> pd.DatetimeIndex:
    """Every 1-minute timestamp of the UTC day: what a complete source delivers."""
    start, end = day_bounds(run_date)
    return pd.date_range(start, end, freq=SAMPLE_PERIOD, inclusive="left", name="timestamp")


@dataclass
class QualityResult:
    """The flags of one day: ``flags`` has columns ``(variable, check)`` on the 1-minute grid."""

    thresholds: QualityThresholds
    grid: pd.DataFrame  # the samples on the expected grid (absent timestamps as nulls)
    flags: pd.DataFrame

    @property
    def variables(self) -> list[str]:
        return list(self.grid.columns)

    def suspect(self) -> pd.DataFrame:
        """Per variable: True where the sample is missing or any check flagged it."""
        return self.flags.T.groupby(level="variable").any().T[self.variables]

    def good(self) -> pd.DataFrame:
        """Per variable: True where the sample is present, non-null and passes every check."""
        return ~self.suspect()

    def flag_counts(self) -> dict[str, dict[str, int]]:
        """``{check: {variable: samples flagged}}`` for every check and variable (zeros included)."""
        counts = self.flags.sum()
        return {c: {v: int(counts.get((v, c), 0)) for v in self.variables} for c in CHECKS}

    def day_quality(self) -> dict[str, float]:
        """``{variable: share of the day's expected samples that are good}``."""
        return {v: float(share) for v, share in self.good().mean().items()}


def check_day(
    samples: pd.DataFrame, run_date: dt.date, thresholds: QualityThresholds | dict | None = None
) -> QualityResult:
    """Run every check over the day's samples (columns: variables, index: UTC timestamps)."""
    t = thresholds_from(thresholds)
    expected = expected_timestamps(run_date)
    present = samples.index
    grid = samples.reindex(expected.union(present))
    grid.index.name = "timestamp"
    gaps = gap_flag(present, grid.index)
    ranges = t.ranges()
    flags: dict[tuple[str, str], pd.Series] = {}
    idle_power = grid["power"] <= t.power_near_zero if "power" in grid else None
    for variable in grid.columns:
        data = grid[variable]
        lower, upper = ranges.get(variable, (-np.inf, np.inf))
        flags[(variable, "gap")] = gaps
        flags[(variable, "null")] = null_flag(data, present)
        flags[(variable, "range")] = range_flag(data, lower, upper)
        flags[(variable, "frozen")] = frozen_flag(
            data, t.frozen_samples(variable), exempt=idle_power if variable == "power" else None
        )
        spike = partial(spike_flag, window=t.spike_window, n_mads=t.spike_mads,
                        min_deviation=t.spike_min_deviation(variable))  # fmt: skip
        flags[(variable, "spike")] = spike(data)
        if variable == "power" and "wind_speed" in grid:
            # A jump of power that the wind explains (a gust on the steep part of the curve,
            # a cut-out) is no spike: it must also stand out from the reference curve.
            residual = data - reference_power(grid["wind_speed"], t)
            flags[(variable, "spike")] &= spike(residual)
            flags[(variable, "power_curve")] = power_curve_flag(grid["wind_speed"], data, t)
        else:
            flags[(variable, "power_curve")] = pd.Series(False, index=grid.index)
    frame = pd.DataFrame(flags).astype(bool)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["variable", "check"])
    return QualityResult(thresholds=t, grid=grid, flags=frame)
