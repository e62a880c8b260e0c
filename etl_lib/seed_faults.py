"""Realistic faults injected into the generated source data, so the quality checks have work to do.

``DEFAULT_FAULTS`` is what ``etl seed`` puts into the default period (listed in the README);
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

FaultKind = Literal["gap", "null", "stuck", "spike", "out_of_range", "curtailment"]


@dataclass(frozen=True)
class Fault:
    """``minutes`` samples from ``start`` (UTC) go wrong in the way ``kind`` says.

    - gap: the rows are absent (a logger outage); ``variable`` is ignored.
    - null: ``variable`` is null.
    - stuck: ``variable`` keeps the value it had at ``start`` (a frozen sensor).
    - spike: ``value`` is added to ``variable`` at each sample (isolated glitches: use minutes=1).
    - out_of_range: ``variable`` reads ``value`` (an impossible reading, e.g. a saturated transducer).
    - curtailment: power is capped near ``value`` kW (a set-point with a few kW of control noise).
    """

    kind: FaultKind
    start: dt.datetime
    minutes: int = 1
    variable: str = "power"
    value: float = 0.0
    note: str = ""

    @property
    def timestamps(self) -> pd.DatetimeIndex:
        return pd.date_range(pd.Timestamp(self.start), periods=self.minutes, freq="1min")


def _at(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")


DEFAULT_FAULTS: tuple[Fault, ...] = (
    Fault("gap", _at("2024-10-01", "13:20"), 35, note="logger outage: 35 minutes without rows"),
    Fault("null", _at("2024-10-01", "06:02"), 3, "wind_speed", note="anemometer reading lost for 3 minutes"),
    Fault("null", _at("2024-10-01", "06:41"), 1, "power", note="one power reading lost"),
    Fault("spike", _at("2024-10-01", "12:17"), 1, "power", 1400.0, note="power transducer glitch"),
    Fault("spike", _at("2024-10-01", "20:31"), 1, "wind_speed", 14.0, note="anemometer glitch"),
    Fault("spike", _at("2024-10-01", "20:48"), 1, "wind_speed", 12.5, note="anemometer glitch"),
    Fault("stuck", _at("2024-10-03", "10:00"), 70, "wind_speed", note="anemometer frozen for 70 minutes"),
    Fault("out_of_range", _at("2024-10-06", "09:10"), 4, "power", 3276.7, note="transducer saturated (0x7FFF/10)"),
    Fault("curtailment", _at("2024-10-06", "12:00"), 90, "power", 600.0, note="grid operator caps power at 600 kW"),
)


def apply_faults(frame: pd.DataFrame, faults: Sequence[Fault], seed: int = 0) -> pd.DataFrame:
    """A copy of the generated ``frame`` (column ``timestamp`` plus variables) with ``faults`` applied.

    Faults outside the frame's period are ignored.
    """
    out = frame.set_index("timestamp", drop=False)
    rng = np.random.default_rng([seed, 100])
    dropped: list[pd.Timestamp] = []
    for fault in faults:
        where = fault.timestamps.intersection(out.index)
        if where.empty:
            continue
        if fault.kind == "gap":
            dropped.extend(where)
        elif fault.kind == "null":
            out.loc[where, fault.variable] = np.nan
        elif fault.kind == "stuck":
            out.loc[where, fault.variable] = out.at[where[0], fault.variable]
        elif fault.kind == "spike":
            out.loc[where, fault.variable] = out.loc[where, fault.variable] + fault.value
        elif fault.kind == "out_of_range":
            out.loc[where, fault.variable] = fault.value
        elif fault.kind == "curtailment":
            set_point = np.round(fault.value + 3.0 * rng.standard_normal(len(where)), 1)
            out.loc[where, "power"] = np.minimum(out.loc[where, "power"].to_numpy(), set_point)
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
    return out.drop(index=dropped).reset_index(drop=True)


def faults_table(faults: Sequence[Fault] = DEFAULT_FAULTS) -> pd.DataFrame:
    """The faults as a table (for the README and reports)."""
    return pd.DataFrame(
        [
            {
                "day": f.start.date().isoformat(),
                "from (UTC)": f.start.strftime("%H:%M"),
                "minutes": f.minutes,
                "kind": f.kind,
                "variable": "all" if f.kind == "gap" else f.variable,
                "what": f.note,
            }
            for f in faults
        ]
    )
