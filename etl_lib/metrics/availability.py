"""Every minute of every turbine in one IEC 61400-26-1 category, and time-based availability.

From the status log: an event covers the minutes it overlaps; where events overlap, the category of
highest priority wins (``core.categories.PRIORITY``). Where no event covers a minute (no log, a gap in
it, an export without one), the category is inferred from the samples and the quality flags, and the
minute is marked as inferred:

- no row, or no usable power sample: information unavailable;
- producing (power above ``power_near_zero``): partial performance where the checks found it below its
  curve for a while (``derated``), else full performance;
- not producing: ready standby below cut-in, out of environmental specification from cut-out on, in a
  storm stop waiting to restart (``storm``) and where the checks found it stopped by ice (``iced``),
  information unavailable without a usable wind speed, and otherwise (a stop in wind that nothing
  explains) a forced outage, unavailable in both views.

Categories travel as small integers, a category's position in ``CODES``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..core.categories import AVAILABLE, RANK, UNAVAILABLE, VIEWS, Category
from ..core.contract import SAMPLE_PERIOD

CODES: tuple[Category, ...] = tuple(Category)  # a category as a number: its position here
CODE: dict[Category, int] = {category: code for code, category in enumerate(CODES)}
_CODE_OF_RANK = np.array([CODE[category] for category in sorted(CODES, key=RANK.get)])
NONE = len(RANK)  # the rank of "no event"

# The categories under which the turbine is not running free: a stop or a restriction that the log
# explains is no fault of the data (``pipeline.quality`` does not flag such power as suspect).
EXPLAINED = tuple(
    c
    for c in Category
    if c not in (Category.FULL_PERFORMANCE, Category.READY_STANDBY, Category.INFORMATION_UNAVAILABLE)
)


def from_events(
    index: pd.DatetimeIndex, turbines: list[str], events: pd.DataFrame | None, period: dt.timedelta = SAMPLE_PERIOD
) -> pd.DataFrame:
    """The log's category code of each minute (``index``: the minutes' starts) of each turbine, the highest
    priority among the events overlapping it; -1 where no event covers the minute. ``events``: ``turbine,
    start_time, end_time`` (NaT while open), ``category``."""
    ranks = np.full((len(index), len(turbines)), NONE, dtype=np.int64)
    if events is not None and len(events):
        column = {name: j for j, name in enumerate(turbines)}
        stamps = index.as_unit("ns").asi8  # one unit for all: pandas keeps each column's own resolution
        step = pd.Timedelta(period).value
        starts = pd.DatetimeIndex(events["start_time"]).as_unit("ns").asi8
        ends = pd.DatetimeIndex(events["end_time"]).as_unit("ns")
        end_values = np.where(ends.isna(), np.iinfo(np.int64).max, ends.asi8)
        first = np.searchsorted(stamps, starts - step, side="right")  # the minutes that overlap [start, end)
        last = np.searchsorted(stamps, end_values, side="left")
        rank = np.array([RANK[Category(name)] for name in events["category"]], dtype=np.int64)
        for turbine, a, b, r in zip(events["turbine"], first, last, rank):
            j = column.get(turbine)
            if j is not None and a < b:
                np.minimum(ranks[a:b, j], r, out=ranks[a:b, j])
    codes = np.where(ranks < NONE, _CODE_OF_RANK[np.minimum(ranks, NONE - 1)], -1)
    return pd.DataFrame(codes, index=index, columns=pd.Index(turbines, name="turbine"))


def infer(
    present: pd.DataFrame,
    power: pd.DataFrame,
    wind_speed: pd.DataFrame,
    cut_in: pd.Series,
    cut_out: pd.Series,
    power_near_zero: float,
    derated: pd.DataFrame | None = None,
    iced: pd.DataFrame | None = None,
    storm: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each minute's category code as the samples tell it (the rules of this module's docstring); ``power``
    and ``wind_speed`` NaN where the sample is missing or unusable."""
    names, index = power.columns, power.index

    def values(frame: pd.DataFrame | None, missing) -> np.ndarray | bool:  # on ``power``'s grid, as an array
        if frame is None:
            return False
        if not (frame.columns.equals(names) and frame.index.equals(index)):
            frame = frame.reindex(index=index, columns=names, fill_value=missing)
        return frame.to_numpy()

    power_kw, wind = values(power, np.nan), values(wind_speed, np.nan)
    producing = power_kw > power_near_zero
    partial = producing & values(derated, False)
    below = wind < cut_in.reindex(names).to_numpy(dtype=float)
    above = (wind >= cut_out.reindex(names).to_numpy(dtype=float)) | values(iced, False) | values(storm, False)
    choices = [
        ~values(present, False) | np.isnan(power_kw),
        partial,
        producing,
        below,
        above,
        np.isnan(wind),
    ]
    outcomes = [
        CODE[Category.INFORMATION_UNAVAILABLE],
        CODE[Category.PARTIAL_PERFORMANCE],
        CODE[Category.FULL_PERFORMANCE],
        CODE[Category.READY_STANDBY],
        CODE[Category.OUT_OF_ENVIRONMENTAL_SPECIFICATION],
        CODE[Category.INFORMATION_UNAVAILABLE],
    ]
    codes = np.select(choices, outcomes, default=CODE[Category.FORCED_OUTAGE])
    return pd.DataFrame(codes, index=index, columns=names)


def explained(codes: pd.DataFrame) -> pd.DataFrame:
    """True where the category (from the log) is a stop or a restriction (``EXPLAINED``)."""
    return codes.isin([CODE[c] for c in EXPLAINED])


def minutes(codes: pd.DataFrame) -> pd.DataFrame:
    """Minutes per category: a row per turbine (column of ``codes``), a column per category's name."""
    values = codes.to_numpy()
    counts = np.stack([(values == code).sum(axis=0) for code in range(len(CODES))], axis=1)
    return pd.DataFrame(counts, index=codes.columns, columns=[category.value for category in CODES])


def time_availability(category_minutes: pd.DataFrame, view: str) -> pd.Series:
    """A_t = 1 − T_u / (T_a + T_u) per row of ``category_minutes`` (a column per category's name), in ``view``
    (``"user"`` or ``"manufacturer"``, ``core.categories.VIEWS``); NaN where the row has neither."""
    counted = VIEWS[view]
    available = category_minutes[[c.value for c, how in counted.items() if how == AVAILABLE]].sum(axis=1)
    unavailable = category_minutes[[c.value for c, how in counted.items() if how == UNAVAILABLE]].sum(axis=1)
    total = available + unavailable
    return (1.0 - unavailable / total.where(total > 0)).astype("float64")


def unavailable_codes(view: str) -> list[int]:
    """The codes of the categories that are unavailable time in ``view``."""
    return [CODE[c] for c, how in VIEWS[view].items() if how == UNAVAILABLE]
