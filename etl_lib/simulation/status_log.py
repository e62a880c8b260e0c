"""The simulated turbines' status log, as real SCADA keeps one: status codes, each mapped to an IEC
61400-26-1 category (``core.categories``), and per turbine the events, each a code from a start to an
end. The generator gives every minute its state (generating, ready, a high-wind cut-out, icing); the
faults of ``faults`` give the others (maintenance, outages, requests of the grid operator, a lost
link); ``events`` turns a turbine's minutes into the log: one event per run of one state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.categories import Category
from ..core.contract import SAMPLE_PERIOD


@dataclass(frozen=True)
class StatusCode:
    code: int
    description: str
    category: Category


GENERATING, LIMITED, READY = 1, 2, 3
CUT_OUT, ICING = 10, 11
REQUESTED_STOP = 20
GRID_FAULT = 30
MAINTENANCE, REPAIR = 40, 41
PITCH_FAULT, CONVERTER_FAULT, YAW_FAULT, GEARBOX_FAULT = 50, 51, 52, 53
AUTO_RESTART = 60
LINK_LOST = 90

STATUS_CODES: tuple[StatusCode, ...] = (
    StatusCode(GENERATING, "Generating", Category.FULL_PERFORMANCE),
    StatusCode(LIMITED, "Power limited by the grid operator's set-point", Category.PARTIAL_PERFORMANCE),
    StatusCode(READY, "Ready: wind below cut-in", Category.READY_STANDBY),
    StatusCode(
        CUT_OUT,
        "Stopped: wind above cut-out (restarts below cut-out − 5 m/s)",
        Category.OUT_OF_ENVIRONMENTAL_SPECIFICATION,
    ),
    StatusCode(ICING, "Stopped: ice on the rotor", Category.OUT_OF_ENVIRONMENTAL_SPECIFICATION),
    StatusCode(REQUESTED_STOP, "Stopped on request of the grid operator", Category.REQUESTED_SHUTDOWN),
    StatusCode(GRID_FAULT, "Stopped: grid voltage out of range", Category.OUT_OF_ELECTRICAL_SPECIFICATION),
    StatusCode(MAINTENANCE, "Scheduled maintenance", Category.SCHEDULED_MAINTENANCE),
    StatusCode(REPAIR, "Planned repair", Category.PLANNED_CORRECTIVE_ACTION),
    StatusCode(PITCH_FAULT, "Fault: pitch system", Category.FORCED_OUTAGE),
    StatusCode(CONVERTER_FAULT, "Fault: converter", Category.FORCED_OUTAGE),
    StatusCode(YAW_FAULT, "Fault: yaw system", Category.FORCED_OUTAGE),
    StatusCode(GEARBOX_FAULT, "Fault: gearbox oil temperature high", Category.FORCED_OUTAGE),
    StatusCode(AUTO_RESTART, "Restarting after a fault (automatic)", Category.TECHNICAL_STANDBY),
    StatusCode(LINK_LOST, "Communication with the turbine lost", Category.INFORMATION_UNAVAILABLE),
)
CODES: dict[int, StatusCode] = {status.code: status for status in STATUS_CODES}


def events(timestamps: pd.DatetimeIndex | pd.Series, state: np.ndarray) -> pd.DataFrame:
    """A turbine's log from its minutes: ``start_time, end_time, code``, one row per run of one state,
    each ending where the next begins (the last at the end of the last minute)."""
    stamps = pd.DatetimeIndex(timestamps)
    codes = np.asarray(state, dtype=np.int64)
    if not len(codes):
        return pd.DataFrame({"start_time": stamps[:0], "end_time": stamps[:0], "code": codes[:0]})
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    end_times = stamps[ends - 1] + SAMPLE_PERIOD
    return pd.DataFrame({"start_time": stamps[starts], "end_time": end_times, "code": codes[starts]})
