"""Seeded, realistic synthetic 1-minute samples of a wind farm, and the state each turbine was in.

A fleet is farms (``Site``: a name, a position and an elevation), each with a weather of its own. One
weather for a farm: a wind speed that is an autocorrelated Gaussian process mapped onto a
Weibull distribution (Gaussian copula), a slowly veering wind direction and a daily cycle of
ambient temperature (cooler the higher the site). Each turbine sees that wind with turbulence of its own, a slow local
deviation, and the wake of any turbine upwind of it (by direction and distance); its power
follows its own model's power curve (``core.turbines``) at the wind normalised to the air's density
(IEC 61400-12-1: the curve is for 1.225 kg/m³; the density comes from the temperature and the site's
elevation), with noise, and a small standby draw when idle. Every component draws from its own random
stream (per turbine where it is the turbine's own; per farm, the first farm's being a lone farm's), so the
first N days are the same whatever the length of the period, and the first farm of a fleet is the farm a
seed of one farm makes.

Each minute also has the turbine's state, a status code of ``status_log.STATUS_CODES``: generating,
ready (wind below cut-in), stopped above cut-out until the wind drops below the restart speed
(hysteresis), stopped by icing on cold days; the faults of ``faults`` add the others (maintenance,
outages, curtailment). ``potential`` is each minute's true potential power: what the turbine would
produce were it available, the curve at the true wind, without noise (for tests of lost production).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..core.contract import (
    DEFAULT_FARM,
    DEFAULT_FARMS,
    DEFAULT_MODELS,
    DEFAULT_PERIOD_DAYS,
    DEFAULT_PERIOD_START,
    DEFAULT_SEED,
    DEFAULT_TURBINES,
    SAMPLE_PERIOD,
)
from ..core.errors import ConfigurationError
from ..core.turbines import TurbineModel, density_factor, resolve_model
from .status_log import CUT_OUT, GENERATING, ICING, READY

SAMPLES_PER_DAY = dt.timedelta(days=1) // SAMPLE_PERIOD
STANDBY_POWER = -4.0  # kW drawn by an idle turbine
FARM_ORIGIN = (54.43, 8.93)  # latitude, longitude of the first turbine (a North Sea coast site)
FARM_ELEVATION = 8.0  # m above sea level
RESTART_MARGIN = 5.0  # m/s: after a high-wind cut-out a turbine restarts once the wind is below cut-out minus this
ICING_BELOW = -0.5  # °C: a turbine's rotor and anemometer ice after ICING_MINUTES at or below this ...
THAW_ABOVE = 1.0  # ... and thaw after ICING_MINUTES at or above this
ICING_MINUTES = 120
ICED_ANEMOMETER = 0.35  # an iced anemometer reads this share of the wind
PER_ROW = 5  # turbines per row, west to east; rows go north
METRES_PER_DEGREE = 111_320.0
# The fleet: farm k (k >= 2) lies east of the first, FARMS_PER_ROW to a row (rows go south), on a site higher
# by ELEVATION_STEP per place in a cycle of ELEVATION_CYCLE (a coast, then hills); the air cools with height.
FARMS_PER_ROW = 8
FARM_SPACING = (0.45, 0.6)  # degrees south, east between farms
ELEVATION_STEP = 110.0  # m
ELEVATION_CYCLE = 4
LAPSE_RATE = 0.0065  # °C per m: the standard atmosphere's
FARM_STREAMS = 9_000  # marks the random streams of farm k >= 2 (the first farm's are a lone farm's)


@dataclass(frozen=True)
class WindClimate:
    weibull_k: float = 2.0
    mean_speed: float = 7.0  # m/s
    correlation_minutes: float = 240.0  # time scale of the weather
    turbulence_intensity: float = 0.08  # minute-to-minute gusts, relative to speed
    local_deviation: float = 0.03  # slow differences between the turbines' sites, relative
    prevailing_direction: float = 240.0  # degrees the wind comes from (clockwise from north)
    direction_spread: float = 60.0  # degrees, standard deviation of the veering
    wake_strength: float = 0.35  # speed deficit right behind a rotor, before it spreads (Jensen)
    wake_decay: float = 0.05  # how fast a wake widens with distance, per rotor diameter
    wake_width: float = 12.0  # degrees: how far off the line between two turbines a wake reaches
    mean_temperature: float = 12.0  # °C around which the daily cycle swings (a cold climate ices turbines)


@dataclass(frozen=True)
class Site:
    """A farm of the fleet: its name, its place in the fleet (``number``, 1 for the first), where its first
    turbine stands and its elevation above sea level."""

    name: str = DEFAULT_FARM
    number: int = 1
    latitude: float = FARM_ORIGIN[0]
    longitude: float = FARM_ORIGIN[1]
    elevation: float = FARM_ELEVATION  # m

    def streams(self) -> tuple[int, ...]:
        """What sets its random streams apart: nothing for the first farm (a lone farm's), else its number."""
        return () if self.number == 1 else (FARM_STREAMS, self.number)

    def climate(self, climate: WindClimate) -> WindClimate:
        """``climate`` at this site: the temperature lower by the lapse rate over its height above the first's."""
        rise = self.elevation - FARM_ELEVATION
        return climate if rise == 0 else replace(climate, mean_temperature=climate.mean_temperature - LAPSE_RATE * rise)

    def as_row(self) -> dict:
        return {"name": self.name, "latitude": self.latitude, "longitude": self.longitude, "elevation": self.elevation}


@dataclass(frozen=True)
class FarmTurbine:
    name: str
    model: TurbineModel
    east: float  # m from the farm's origin (its first turbine)
    north: float  # m from the farm's origin
    elevation: float = FARM_ELEVATION  # m above sea level
    site: Site = Site()  # its farm

    @property
    def latitude(self) -> float:
        return self.site.latitude + self.north / METRES_PER_DEGREE

    @property
    def longitude(self) -> float:
        return self.site.longitude + self.east / (METRES_PER_DEGREE * math.cos(math.radians(self.site.latitude)))


def turbine_names(count: int, first: int = 1, width: int | None = None) -> list[str]:
    """``count`` names from ``WT<first>``, numbered with ``width`` digits (default: enough for ``count``, at
    least 2)."""
    width = width or max(2, len(str(count)))
    return [f"WT{number:0{width}d}" for number in range(first, first + count)]


def farm_names(count: int) -> list[str]:
    """``WF01``, ``WF02``, …: the fleet's farms (the first is ``DEFAULT_FARM``)."""
    width = max(2, len(str(count)))
    return [f"WF{number:0{width}d}" for number in range(1, count + 1)]


def site(number: int, name: str | None = None) -> Site:
    """The ``number``-th farm of a generated fleet (1: the default farm's site), named ``name`` (default its
    ``farm_names`` name)."""
    if number < 1:
        raise ValueError(f"a farm's number is 1 or more, not {number}")
    row, column = divmod(number - 1, FARMS_PER_ROW)
    return Site(
        name or f"WF{number:02d}",
        number,
        FARM_ORIGIN[0] - FARM_SPACING[0] * row,
        FARM_ORIGIN[1] + FARM_SPACING[1] * column,
        FARM_ELEVATION + ELEVATION_STEP * ((number - 1) % ELEVATION_CYCLE),
    )


def build_farm(
    turbines: int = DEFAULT_TURBINES,
    models: Sequence[str | TurbineModel] = DEFAULT_MODELS,
    *,
    at: Site = Site(),
    first: int = 1,
    width: int | None = None,
) -> list[FarmTurbine]:
    """``turbines`` turbines of the farm ``at`` in rows of five, west to east, 5 rotor diameters apart (rows 7
    apart), named from ``WT<first>`` (``turbine_names``); the models (catalogue names, CSV paths or
    TurbineModels) in equal consecutive groups."""
    if turbines < 1:
        raise ConfigurationError(
            f"A farm needs at least one turbine, not {turbines}.", "Give --turbines 1 or more.", setting="turbines"
        )
    resolved = [m if isinstance(m, TurbineModel) else resolve_model(m) for m in models]
    if not resolved:
        raise ConfigurationError("No turbine model was given.", "Name one or more models.", setting="models")
    spacing = max(m.rotor_diameter or 90.0 for m in resolved)
    farm = []
    for index, name in enumerate(turbine_names(turbines, first, width)):
        row, column = divmod(index, PER_ROW)
        model = resolved[index * len(resolved) // turbines]
        farm.append(
            FarmTurbine(
                name, model, east=5 * spacing * column, north=7 * spacing * row, elevation=at.elevation, site=at
            )
        )
    return farm


def build_fleet(
    farms: int = DEFAULT_FARMS, turbines: int = DEFAULT_TURBINES, models: Sequence[str | TurbineModel] = DEFAULT_MODELS
) -> list[list[FarmTurbine]]:
    """``farms`` farms (``site``) of ``turbines`` turbines each (``build_farm``), the turbines numbered across
    the fleet (WT01 to WT04 in the first farm of four, WT05 to WT08 in the second, …): a turbine's name is
    unique in the fleet. One farm is ``build_farm``'s farm."""
    if farms < 1:
        raise ConfigurationError(
            f"A fleet needs at least one farm, not {farms}.", "Give --farms 1 or more.", setting="farms"
        )
    width = max(2, len(str(farms * turbines)))
    return [
        build_farm(turbines, models, at=site(number, name), first=1 + (number - 1) * turbines, width=width)
        for number, name in enumerate(farm_names(farms), start=1)
    ]


def _stream(seed: int, *component: int) -> np.random.Generator:
    return np.random.default_rng([seed, *component])


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


@dataclass(frozen=True)
class Weather:
    """The farm's shared weather, one value per minute."""

    timestamps: pd.DatetimeIndex
    wind_speed: np.ndarray  # m/s, free stream
    direction: np.ndarray  # degrees the wind comes from
    temperature: np.ndarray  # °C


def weather(start: dt.date, days: int, seed: int, climate: WindClimate = WindClimate(), at: Site = Site()) -> Weather:
    """The weather of the farm ``at`` (its own random streams and its site's climate) over ``days`` days."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    n = days * SAMPLES_PER_DAY
    climate, own = at.climate(climate), at.streams()
    timestamps = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=n, freq=SAMPLE_PERIOD)
    u = np.clip(_normal_cdf(_ar1(_stream(seed, 1, *own), n, climate.correlation_minutes)), 1e-9, 1 - 1e-9)
    scale = climate.mean_speed / math.gamma(1.0 + 1.0 / climate.weibull_k)
    speed = scale * (-np.log1p(-u)) ** (1.0 / climate.weibull_k)
    direction = (
        climate.prevailing_direction + climate.direction_spread * _ar1(_stream(seed, 6, *own), n, 720.0)
    ) % 360.0
    hours = (timestamps.hour + timestamps.minute / 60.0).to_numpy()
    drift = _ar1(_stream(seed, 4, *own), n, 720.0)
    temperature = climate.mean_temperature + 4.5 * np.sin(2 * math.pi * (hours - 9.0) / 24.0) + 2.0 * drift
    return Weather(timestamps, speed, direction, temperature)


def _wake_factor(farm: list[FarmTurbine], index: int, sky: Weather, climate: WindClimate) -> np.ndarray:
    """The share of the free wind that reaches turbine ``index`` behind the others (1: no wake)."""
    me = farm[index]
    squared = np.zeros(len(sky.direction))
    for other in farm:
        if other is me:
            continue
        east, north = other.east - me.east, other.north - me.north
        distance = math.hypot(east, north)
        diameter = other.model.rotor_diameter or 90.0
        if distance > 20 * diameter:
            continue
        bearing = math.degrees(math.atan2(east, north)) % 360.0  # wind from here puts `other` upwind of me
        off_line = (sky.direction - bearing + 180.0) % 360.0 - 180.0
        strength = climate.wake_strength / (1.0 + 2.0 * climate.wake_decay * distance / diameter) ** 2
        turning = (sky.wind_speed >= other.model.cut_in) & (sky.wind_speed < other.model.cut_out)
        squared += (strength * np.exp(-0.5 * (off_line / climate.wake_width) ** 2) * turning) ** 2
    return 1.0 - np.sqrt(squared)


def _held_state(enter: np.ndarray, leave: np.ndarray) -> np.ndarray:
    """A state entered where ``enter`` is True and held until ``leave`` is True (hysteresis), per minute."""
    state = np.zeros(len(enter), dtype=bool)
    if not enter.any():
        return state
    inside = False
    for i in range(int(np.argmax(enter)), len(enter)):
        inside = (inside and not leave[i]) or bool(enter[i])
        state[i] = inside
    return state


def _lasting(condition: np.ndarray, minutes: int) -> np.ndarray:
    """True where ``condition`` has held for the last ``minutes`` minutes."""
    run = np.zeros(len(condition), dtype=np.int64)
    count = 0
    for i, value in enumerate(condition):
        count = count + 1 if value else 0
        run[i] = count
    return run >= minutes


def turbine_samples(
    farm: list[FarmTurbine], index: int, sky: Weather, seed: int, climate: WindClimate = WindClimate()
) -> pd.DataFrame:
    """Turbine ``index``'s 1-minute rows ``timestamp, wind_speed, power, ambient_temperature``, with the
    minute's status code (``state``) and true potential power (``potential``, kW)."""
    turbine, n = farm[index], len(sky.timestamps)
    # The turbine's own streams, by its place in its farm: the same whatever the size of the farm or fleet.
    own = (index + 1, *turbine.site.streams())
    gusts = _ar1(_stream(seed, 2, *own), n, 3.0) * climate.turbulence_intensity
    local = _ar1(_stream(seed, 7, *own), n, 60.0) * climate.local_deviation
    true_wind = np.clip(sky.wind_speed * _wake_factor(farm, index, sky, climate) * (1.0 + local + gusts), 0.0, None)
    temperature = sky.temperature + 0.05 * _stream(seed, 5, *own).standard_normal(n)

    # Icing on cold days: once cold for a while the rotor stops and the anemometer reads low, until it thaws.
    if (temperature <= ICING_BELOW).any():
        iced = _held_state(
            _lasting(temperature <= ICING_BELOW, ICING_MINUTES), _lasting(temperature >= THAW_ABOVE, ICING_MINUTES)
        )
    else:
        iced = np.zeros(n, dtype=bool)
    wind_speed = np.round(np.where(iced, true_wind * ICED_ANEMOMETER, true_wind), 2)  # as the anemometer records it

    # Power: the model's curve at the wind normalised to the air's density, with relative noise that vanishes
    # when idle, capped a little above its top; stopped above cut-out until the wind drops below the restart
    # speed, and while iced.
    model = turbine.model
    noise = _stream(seed, 3, *own).standard_normal(n)
    normalised = density_factor(temperature, turbine.elevation)
    # The controller's wind (a heated sensor, not the iced cup), read at the standard density.
    measured = np.where(iced, true_wind, wind_speed) * normalised
    cut_out = _held_state(measured >= model.cut_out, measured < model.cut_out - RESTART_MARGIN)
    potential = model.power(np.round(true_wind, 2) * normalised)  # 0 outside [cut-in, cut-out)
    ideal = np.where(cut_out | iced, 0.0, model.power(measured))
    producing = ideal > 0
    top = max(model.powers) * 1.02
    power = np.where(
        producing, np.clip(ideal * (1.0 + 0.03 * noise) + 8.0 * noise, 0.0, top), STANDBY_POWER + 0.5 * noise
    )
    state = np.where(iced, ICING, np.where(cut_out, CUT_OUT, np.where(producing, GENERATING, READY)))
    return pd.DataFrame(
        {
            "timestamp": sky.timestamps,
            "wind_speed": wind_speed,
            "power": np.round(power, 1),
            "ambient_temperature": np.round(temperature, 2),
            "state": state.astype(np.int64),
            "potential": potential,
        }
    )


def generate(
    farm: list[FarmTurbine] | None = None,
    start: dt.date = DEFAULT_PERIOD_START,
    days: int = DEFAULT_PERIOD_DAYS,
    seed: int = DEFAULT_SEED,
    climate: WindClimate = WindClimate(),
) -> Iterator[tuple[FarmTurbine, pd.DataFrame]]:
    """Each turbine of ``farm`` (default: ``build_farm()``; a farm of one site) with its samples over ``days`` UTC
    days in its site's weather, one turbine at a time (a year of a large farm never sits in memory at once)."""
    farm = farm or build_farm()
    sky = weather(start, days, seed, climate, farm[0].site)
    for index, turbine in enumerate(farm):
        yield turbine, turbine_samples(farm, index, sky, seed, climate)
