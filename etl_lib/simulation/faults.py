"""Realistic faults injected into the generated source data, so the quality checks have work to do.

``DEFAULT_FAULTS`` is what ``etl seed`` puts into the default period (listed in docs/quality.md);
``etl seed --clean`` leaves them out. Tests build their own ``Fault`` lists on other dates.
Each fault is plain data, and ``apply_faults`` is a pure function of the generated frame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..core.contract import DEFAULT_TURBINE, SAMPLE_PERIOD
from .generator import STANDBY_POWER

FaultKind = Literal[
    "gap",
    "null",
    "stuck",
    "spike",
    "out_of_range",
    "curtailment",
    "constant",
    "scaled",
    "stopped",
    "gust",
    "calm",
    "feathered",
    "sinking",
    "level",
    "steady",
    "deadband",
]
# A fault on this turbine name happens at every turbine of the farm at once (weather, the grid).
FARM = "*"


@dataclass(frozen=True)
class Fault:
    """``minutes`` samples of ``turbine`` from ``start`` (UTC) go wrong in the way ``kind`` says.

    - gap: the rows are absent (a logger outage); ``variable`` is ignored.
    - null: ``variable`` is null.
    - stuck: ``variable`` keeps the value it had at ``start`` (a frozen sensor).
    - spike: ``value`` is added to ``variable`` at each sample (isolated glitches: use minutes=1).
    - out_of_range: ``variable`` reads ``value`` (an impossible reading, e.g. a saturated transducer).
    - curtailment: power is capped near ``value`` kW (a set-point with a few kW of control noise), e.g.
      a partial derating at 55 % of rated power.
    - constant: ``variable`` reads ``value`` (a dead anemometer reading 0.00 m/s).
    - scaled: ``variable`` reads ``value`` times its true value (an iced anemometer reading low, e.g. 0.6).
    - stopped: power reads the standby draw ``value`` kW (±0.5 kW), whatever the wind (a stopped turbine).
    - gust: ``value`` is added to ``variable`` (with ``turbine=FARM``: a gust front reaching the whole farm).
    - calm: the wind reads 0.00 m/s and power the standby draw (with ``turbine=FARM``: a farm-wide calm).
    - feathered: the rotor stands still (power the standby draw, ±0.5 kW) and the anemometer reads ``value``
      times the wind: iced blades and cups (e.g. 0.3), or a turbine idling in the lee of its stopped rotor
      (0.75: it reads less than its running neighbours).
    - sinking: ``variable`` sinks from its true value to ``value`` times it, linearly over the fault's
      minutes (an anemometer icing up, or a stopped rotor's shadow); follow it with ``scaled`` to hold it.
    - level: ``variable`` reads ``value`` plus its own deviation from its mean over the fault (the weather's
      shape and the sensor's noise kept, at another level: with ``turbine=FARM``, a frosty night at −2 °C).
    - steady: ``variable`` holds ``value`` with a sensor's jitter only (0.02 standard deviation, rounded to
      0.01: with ``turbine=FARM``, a still night whose temperatures stay within about ±0.1 °C).
    - deadband: the logger records ``variable`` anew only when it has moved by more than ``value`` from the
      last value recorded; in between that one repeats (a logger's deadband, e.g. 0.1 °C).

    ``turbine`` names the turbine; ``FARM`` puts the fault on every turbine at the same time.
    """

    kind: FaultKind
    start: dt.datetime
    minutes: int = 1
    variable: str = "power"
    value: float = 0.0
    note: str = ""
    turbine: str = DEFAULT_TURBINE

    @property
    def timestamps(self) -> pd.DatetimeIndex:
        return pd.date_range(pd.Timestamp(self.start), periods=self.minutes, freq=SAMPLE_PERIOD)


def _at(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")


DEFAULT_FAULTS: tuple[Fault, ...] = (
    Fault(
        "null",
        _at("2024-10-01", "06:02"),
        3,
        "wind_speed",
        note="anemometer reading lost for 3 minutes",
        turbine="WT01",
    ),
    Fault("null", _at("2024-10-01", "06:41"), 1, "power", note="one power reading lost", turbine="WT01"),
    Fault("spike", _at("2024-10-01", "12:17"), 1, "power", 1400.0, note="power transducer glitch", turbine="WT02"),
    Fault("gap", _at("2024-10-01", "13:20"), 35, note="logger outage: 35 minutes without rows", turbine="WT03"),
    Fault("spike", _at("2024-10-01", "20:31"), 1, "wind_speed", 14.0, note="anemometer glitch", turbine="WT04"),
    Fault("spike", _at("2024-10-01", "20:48"), 1, "wind_speed", 12.5, note="anemometer glitch", turbine="WT04"),
    Fault(
        "stuck", _at("2024-10-03", "10:00"), 70, "wind_speed", note="anemometer frozen for 70 minutes", turbine="WT02"
    ),
    Fault(
        "out_of_range",
        _at("2024-10-06", "09:10"),
        4,
        "power",
        3276.7,
        note="transducer saturated (0x7FFF/10)",
        turbine="WT01",
    ),
    Fault(
        "curtailment",
        _at("2024-10-06", "12:00"),
        90,
        "power",
        600.0,
        note="power capped at 600 kW (derating)",
        turbine="WT03",
    ),
)


def _deadband(values: np.ndarray, band: float) -> np.ndarray:
    """What a logger with a deadband of ``band`` records of ``values``: a new value only when it differs from
    the last one recorded by more than ``band`` (a null is recorded as it comes and ends the hold)."""
    recorded = values.astype("float64")
    last = np.nan
    for i, value in enumerate(recorded):
        if np.isnan(value) or np.isnan(last) or abs(value - last) > band:
            last = value
        recorded[i] = last
    return recorded


def apply_faults(
    frame: pd.DataFrame, faults: Sequence[Fault], seed: int = 0, turbine: str = DEFAULT_TURBINE
) -> pd.DataFrame:
    """A copy of ``turbine``'s generated ``frame`` (column ``timestamp`` plus variables) with its ``faults``
    and the farm's (``turbine=FARM``) applied. Faults of other turbines, or outside the frame's period,
    are ignored.
    """
    out = frame.set_index("timestamp", drop=False)
    rng = np.random.default_rng([seed, 100])
    dropped: list[pd.Timestamp] = []
    for fault in (f for f in faults if f.turbine in (turbine, FARM)):
        where = fault.timestamps.intersection(out.index)
        if where.empty:
            continue
        if fault.kind == "gap":
            dropped.extend(where)
        elif fault.kind == "null":
            out.loc[where, fault.variable] = np.nan
        elif fault.kind == "stuck":
            out.loc[where, fault.variable] = out.at[where[0], fault.variable]
        elif fault.kind in ("spike", "gust"):
            out.loc[where, fault.variable] = out.loc[where, fault.variable] + fault.value
        elif fault.kind in ("out_of_range", "constant"):
            out.loc[where, fault.variable] = fault.value
        elif fault.kind == "scaled":
            out.loc[where, fault.variable] = np.round(out.loc[where, fault.variable] * fault.value, 2)
        elif fault.kind in ("stopped", "calm"):
            standby = fault.value if fault.kind == "stopped" else STANDBY_POWER
            out.loc[where, "power"] = np.round(standby + 0.5 * rng.standard_normal(len(where)), 1)
            if fault.kind == "calm":
                out.loc[where, "wind_speed"] = 0.0
        elif fault.kind == "feathered":
            out.loc[where, "power"] = np.round(STANDBY_POWER + 0.5 * rng.standard_normal(len(where)), 1)
            out.loc[where, "wind_speed"] = np.round(out.loc[where, "wind_speed"] * fault.value, 2)
        elif fault.kind == "sinking":
            factor = np.linspace(1.0, fault.value, len(where))
            out.loc[where, fault.variable] = np.round(out.loc[where, fault.variable] * factor, 2)
        elif fault.kind == "level":
            values = out.loc[where, fault.variable]
            out.loc[where, fault.variable] = np.round(values - values.mean() + fault.value, 2)
        elif fault.kind == "steady":
            out.loc[where, fault.variable] = np.round(fault.value + 0.02 * rng.standard_normal(len(where)), 2)
        elif fault.kind == "deadband":
            out.loc[where, fault.variable] = _deadband(out.loc[where, fault.variable].to_numpy(), fault.value)
        elif fault.kind == "curtailment":
            set_point = np.round(fault.value + 3.0 * rng.standard_normal(len(where)), 1)
            out.loc[where, "power"] = np.minimum(out.loc[where, "power"].to_numpy(), set_point)
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
    return out.drop(index=dropped).reset_index(drop=True)
