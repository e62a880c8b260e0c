"""Seeded, realistic synthetic 1-minute turbine data.

Wind speed is an autocorrelated Gaussian process mapped onto a Weibull distribution
(Gaussian copula), power follows a 2 MW power curve with noise, and ambient
temperature has a daily cycle. Each component draws from its own random stream, so
the first N days are the same whatever the length of the period.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_START = dt.date(2024, 10, 1)
DEFAULT_DAYS = 10
DEFAULT_SEED = 42
MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class PowerCurve:
    """An idealised pitch-regulated turbine."""

    cut_in: float = 3.0  # m/s
    rated_speed: float = 12.5  # m/s
    cut_out: float = 25.0  # m/s
    rated_power: float = 2000.0  # kW
    standby_power: float = -4.0  # kW drawn by the idle turbine

    def power(self, wind_speed: np.ndarray) -> np.ndarray:
        v = np.asarray(wind_speed, dtype=float)
        ramp = (v**3 - self.cut_in**3) / (self.rated_speed**3 - self.cut_in**3)
        p = self.rated_power * np.clip(ramp, 0.0, 1.0)
        producing = (v >= self.cut_in) & (v < self.cut_out)
        return np.where(producing, p, self.standby_power)


POWER_CURVE = PowerCurve()


@dataclass(frozen=True)
class WindClimate:
    weibull_k: float = 2.0
    mean_speed: float = 7.0  # m/s
    correlation_minutes: float = 240.0  # time scale of the weather
    turbulence_intensity: float = 0.08  # minute-to-minute gusts, relative to speed


def _stream(seed: int, component: int) -> np.random.Generator:
    return np.random.default_rng([seed, component])


def _ar1(rng: np.random.Generator, n: int, correlation_minutes: float) -> np.ndarray:
    """A unit-variance AR(1) series with the given correlation time, vectorised through ewm."""
    alpha = 1.0 - math.exp(-1.0 / correlation_minutes)
    stationary_std = math.sqrt(alpha / (2.0 - alpha))
    noise = rng.standard_normal(n)
    noise[0] *= stationary_std  # start in the stationary distribution, not at a spike
    smoothed = pd.Series(noise).ewm(alpha=alpha, adjust=False).mean().to_numpy()
    return smoothed / stationary_std


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))


def generate(
    start: dt.date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    climate: WindClimate = WindClimate(),
    curve: PowerCurve = POWER_CURVE,
) -> pd.DataFrame:
    """1-minute rows ``timestamp, wind_speed, power, ambient_temperature`` over ``days`` UTC days."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    n = days * MINUTES_PER_DAY
    timestamps = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=n, freq="1min")

    # Wind: slow weather (Weibull marginal) times fast turbulence.
    weather = _ar1(_stream(seed, 1), n, climate.correlation_minutes)
    u = np.clip(_normal_cdf(weather), 1e-9, 1 - 1e-9)
    scale = climate.mean_speed / math.gamma(1.0 + 1.0 / climate.weibull_k)
    base_speed = scale * (-np.log1p(-u)) ** (1.0 / climate.weibull_k)
    gusts = _ar1(_stream(seed, 2), n, 3.0) * climate.turbulence_intensity
    wind_speed = np.clip(base_speed * (1.0 + gusts), 0.0, None)

    # Power: the curve, with relative noise that vanishes when idle, capped at rated.
    noise = _stream(seed, 3).standard_normal(n)
    ideal = curve.power(wind_speed)
    producing = ideal > 0
    power = np.where(
        producing,
        np.clip(ideal * (1.0 + 0.03 * noise) + 8.0 * noise, 0.0, curve.rated_power * 1.02),
        ideal + 0.5 * noise,
    )

    # Ambient temperature: daily cycle peaking mid-afternoon, slow drift, sensor noise.
    hours = (timestamps.hour + timestamps.minute / 60.0).to_numpy()
    drift = _ar1(_stream(seed, 4), n, 720.0)
    temperature = 12.0 + 4.5 * np.sin(2 * math.pi * (hours - 9.0) / 24.0) + 2.0 * drift
    temperature = temperature + 0.05 * _stream(seed, 5).standard_normal(n)

    return pd.DataFrame(
        {
            "timestamp": timestamps,
            "wind_speed": np.round(wind_speed, 2),
            "power": np.round(power, 1),
            "ambient_temperature": np.round(temperature, 2),
        }
    )
