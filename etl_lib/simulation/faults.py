"""Realistic faults injected into the generated source data, so the quality checks and the KPIs have
work to do: faults of the data (a lost reading, a stuck sensor, a glitch) and of the turbine's
operation (maintenance, an outage, a request of the grid operator, a lost link), each of the latter
with its event in the status log (``status_log``).

``DEFAULT_FAULTS`` is what ``etl seed`` puts into the default period (listed in docs/quality.md and
docs/kpis.md); ``etl seed --clean`` leaves them out. Tests build their own ``Fault`` lists on other
dates. Each fault is plain data, and ``inject`` and ``apply_faults`` are pure functions of the generated
frame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..core.contract import DEFAULT_FARM, DEFAULT_TURBINE, SAMPLE_PERIOD
from . import status_log
from .generator import STANDBY_POWER

FaultKind = Literal[
    "gap",
    "null",
    "stuck",
    "spike",
    "out_of_range",
    "curtailment",
    "set_point",
    "constant",
    "scaled",
    "stopped",
    "gust",
    "calm",
    "maintenance",
    "repair",
    "forced_outage",
    "requested_shutdown",
    "grid_outage",
    "feathered",
    "sinking",
    "level",
    "steady",
    "deadband",
]
# The stops of the turbine's operation: power reads the standby draw, the log the code.
STOPS: dict[str, int] = {
    "maintenance": status_log.MAINTENANCE,
    "repair": status_log.REPAIR,
    "forced_outage": status_log.PITCH_FAULT,  # or the fault code given as ``value``
    "requested_shutdown": status_log.REQUESTED_STOP,
    "grid_outage": status_log.GRID_FAULT,
}
# A fault on this turbine name happens at every turbine of the farm at once (weather, the grid).
FARM = "*"


@dataclass(frozen=True)
class Fault:
    """``minutes`` samples of ``turbine`` from ``start`` (UTC) go wrong in the way ``kind`` says.

    - gap: the rows are absent (the link to the turbine lost: the log says so); ``variable`` is ignored.
    - null: ``variable`` is null.
    - stuck: ``variable`` keeps the value it had at ``start`` (a frozen sensor).
    - spike: ``value`` is added to ``variable`` at each sample (isolated glitches: use minutes=1).
    - out_of_range: ``variable`` reads ``value`` (an impossible reading, e.g. a saturated transducer).
    - curtailment: power is capped near ``value`` kW (a cap with a few kW of control noise), e.g. a partial
      derating at 55 % of rated power, that the log does not explain.
    - set_point: the same cap set by the grid operator: the log says partial performance while it applies.
    - constant: ``variable`` reads ``value`` (a dead anemometer reading 0.00 m/s).
    - scaled: ``variable`` reads ``value`` times its true value (an iced anemometer reading low, e.g. 0.6).
    - stopped: power reads the standby draw ``value`` kW (±0.5 kW), whatever the wind: a stop the log does
      not explain (it keeps saying what the turbine would otherwise do).
    - gust: ``value`` is added to ``variable`` (with ``turbine=FARM``: a gust front reaching the whole farm).
    - calm: the wind reads 0.00 m/s and power the standby draw (with ``turbine=FARM``: a farm-wide calm).
    - maintenance, repair, forced_outage, requested_shutdown, grid_outage: the turbine stops (power reads
      the standby draw) and the log says why (``STOPS``; a forced outage's fault code is ``value`` when
      given, else a pitch fault).
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

    ``turbine`` names the turbine; ``FARM`` puts the fault on every turbine of the farm ``farm`` at the same
    time (default: the first farm, the one a seed of one farm makes; None: every farm of the fleet).
    """

    kind: FaultKind
    start: dt.datetime
    minutes: int = 1
    variable: str = "power"
    value: float = 0.0
    note: str = ""
    turbine: str = DEFAULT_TURBINE
    farm: str | None = DEFAULT_FARM  # where a farm-wide fault (turbine=FARM) happens; None: every farm

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
        note="power capped at 600 kW (a derating the log does not explain)",
        turbine="WT03",
    ),
    Fault("maintenance", _at("2024-10-04", "09:00"), 300, note="scheduled maintenance, 5 hours", turbine="WT02"),
    Fault(
        "grid_outage", _at("2024-10-07", "04:10"), 30, note="grid voltage out of range: the farm stops", turbine=FARM
    ),
    Fault(
        "forced_outage",
        _at("2024-10-08", "13:30"),
        340,
        value=status_log.GEARBOX_FAULT,
        note="gearbox oil temperature high, until reset by a technician",
        turbine="WT04",
    ),
    Fault(
        "set_point",
        _at("2024-10-10", "19:00"),
        180,
        value=900.0,
        note="the grid operator caps WT01 at 900 kW for 3 hours",
        turbine="WT01",
    ),
    Fault(
        "requested_shutdown",
        _at("2024-10-09", "15:00"),
        45,
        note="the grid operator stops the farm for 45 minutes",
        turbine=FARM,
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


def inject(
    frame: pd.DataFrame,
    faults: Sequence[Fault],
    seed: int = 0,
    turbine: str = DEFAULT_TURBINE,
    farm: str = DEFAULT_FARM,
) -> pd.DataFrame:
    """A copy of ``turbine``'s generated ``frame`` (``timestamp``, the variables, and the generator's ``state``
    and ``potential`` when it has them) with its ``faults`` and its farm's (``turbine=FARM`` at ``farm``)
    applied, every minute kept: ``present`` says whether the minute's row reaches the source. Faults of other
    turbines or farms, or outside the frame's period, are ignored."""
    out = frame.set_index("timestamp", drop=False)
    out["present"] = True
    has_state = "state" in out
    rng = np.random.default_rng([seed, 100])
    ours = (f for f in faults if f.turbine == turbine or (f.turbine == FARM and f.farm in (None, farm)))
    for fault in ours:
        where = fault.timestamps.intersection(out.index)
        if where.empty:
            continue
        if fault.kind == "gap":
            out.loc[where, "present"] = False
            if has_state:
                out.loc[where, "state"] = status_log.LINK_LOST
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
        elif fault.kind in ("stopped", "calm", *STOPS):
            standby = fault.value if fault.kind == "stopped" else STANDBY_POWER
            out.loc[where, "power"] = np.round(standby + 0.5 * rng.standard_normal(len(where)), 1)
            if fault.kind == "calm":
                out.loc[where, "wind_speed"] = 0.0
                if has_state:
                    out.loc[where, ["state", "potential"]] = [status_log.READY, 0.0]
            elif fault.kind in STOPS and has_state:
                code = int(fault.value) if fault.kind == "forced_outage" and fault.value else STOPS[fault.kind]
                out.loc[where, "state"] = code
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
        elif fault.kind in ("curtailment", "set_point"):
            set_point = np.round(fault.value + 3.0 * rng.standard_normal(len(where)), 1)
            out.loc[where, "power"] = np.minimum(out.loc[where, "power"].to_numpy(), set_point)
            if has_state and fault.kind == "set_point":
                generating = where[out.loc[where, "state"].to_numpy() == status_log.GENERATING]
                out.loc[generating, "state"] = status_log.LIMITED
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
    return out.reset_index(drop=True)


def apply_faults(
    frame: pd.DataFrame, faults: Sequence[Fault], seed: int = 0, turbine: str = DEFAULT_TURBINE
) -> pd.DataFrame:
    """``inject``'s frame without the absent rows (and without ``present``): what the source holds."""
    out = inject(frame, faults, seed, turbine)
    return out[out.pop("present")].reset_index(drop=True)
