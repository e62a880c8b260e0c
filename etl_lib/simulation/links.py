"""The delays of real links, for the live feed (``feed``): when a turbine's link is down (its rows then arrive
late, in one batch) and when values are sent wrong and re-sent corrected. Pure and deterministic: a function
of the seed and of absolute time (minutes since the Unix epoch, UTC), never of when a feed started, so a
feed that stops and resumes keeps the same schedule.

- **Outages**: time is cut into slots of ``late_every`` minutes; in each slot one turbine (drawn from the
  slot's own random stream) loses its link for ``late_minutes`` minutes from a drawn minute. Its rows of
  those minutes are held by its logger and arrive in one batch with its first row after the outage
  (minute ``end``).
- **Corrections**: in slots of ``correct_every`` minutes, ``correct_minutes`` rows of one turbine are first
  sent with one variable (wind speed or power) off by a calibration factor (the ``scaled`` fault of
  ``faults``), and re-sent corrected ``correct_after`` minutes after the last of them: the rows are then
  updated in place (the key ``turbine_id, timestamp`` stays).

``turbine`` is a position in the source's turbines ordered by id (the whole fleet's, whichever farms are fed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..core.contract import (
    DEFAULT_SEED,
    FEED_CORRECT_AFTER,
    FEED_CORRECT_EVERY,
    FEED_CORRECT_MINUTES,
    FEED_LATE_EVERY,
    FEED_LATE_MINUTES,
    SAMPLE_PERIOD,
)
from ..core.errors import ConfigurationError

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
OUTAGE_STREAM, CORRECTION_STREAM = 300, 301  # the schedule's random streams (the generator's are below 100)
CORRECTED_VARIABLES = ("wind_speed", "power")
CALIBRATION_ERROR = (0.05, 0.15)  # a wrong value is off by this share of the true one (either way)
MAX_DELAY = 1440  # minutes: no outage or correction reaches further back than a day


def minute_index(instant: dt.datetime) -> int:
    """The minute of ``instant`` (aware, on a minute) as whole minutes since the Unix epoch."""
    return (instant - EPOCH) // SAMPLE_PERIOD


def minute_time(index: int) -> dt.datetime:
    return EPOCH + index * SAMPLE_PERIOD


@dataclass(frozen=True)
class Outage:
    turbine: int  # position in the source's turbines
    start: int  # first held minute (minute index)
    end: int  # the first minute after the outage: its batch arrives with this minute's rows

    def holds(self, minute: int) -> bool:
        return self.start <= minute < self.end


@dataclass(frozen=True)
class Correction:
    turbine: int
    start: int  # first minute sent wrong
    end: int  # after the last
    variable: str
    factor: float  # the wrong value is the true one times this
    resent: int  # the minute with whose rows the corrected values are re-sent

    def covers(self, minute: int) -> bool:
        return self.start <= minute < self.end


@dataclass(frozen=True)
class LinkSchedule:
    """When links drop and values are corrected, for a source of ``turbines`` turbines (0 minutes: never)."""

    turbines: int
    seed: int = DEFAULT_SEED
    late_every: int = FEED_LATE_EVERY
    late_minutes: int = FEED_LATE_MINUTES
    correct_every: int = FEED_CORRECT_EVERY
    correct_minutes: int = FEED_CORRECT_MINUTES
    correct_after: int = FEED_CORRECT_AFTER

    def __post_init__(self) -> None:
        if self.turbines < 1:
            raise ConfigurationError("The source has no turbines to feed.", "Seed it first: etl seed.")
        if self.late_every and not 1 <= self.late_minutes <= min(self.late_every - 2, MAX_DELAY):
            raise ConfigurationError(
                f"An outage of {self.late_minutes} minute(s) every {self.late_every} minutes does not fit.",
                f"Give --late-minutes from 1 to {min(max(self.late_every - 2, 1), MAX_DELAY)} (at least two "
                "minutes shorter than --late-every, at most a day), or --late-every 0 for no outages.",
                setting="late_minutes",
            )
        if self.correct_every and not (
            1 <= self.correct_minutes <= self.correct_every
            and 1 <= self.correct_minutes + self.correct_after <= MAX_DELAY
        ):
            raise ConfigurationError(
                f"{self.correct_minutes} corrected minute(s) every {self.correct_every} minutes, re-sent "
                f"{self.correct_after} minutes later, do not fit.",
                "Give --correct-minutes from 1 to --correct-every, and --correct-after from 0 with both together "
                f"at most {MAX_DELAY} minutes (a day); or --correct-every 0 for no corrections.",
                setting="correct_minutes",
            )
        if self.correct_after < 0 or self.late_every < 0 or self.correct_every < 0:
            raise ConfigurationError(
                "Minutes of the link schedule cannot be negative.", "Give 0 or more.", setting="late_every"
            )

    @property
    def lookback(self) -> int:
        """How many minutes before a minute its batch or its corrections may reach back."""
        return max(self.late_minutes if self.late_every else 0, self._correction_reach)

    @property
    def _correction_reach(self) -> int:
        return self.correct_minutes + self.correct_after if self.correct_every else 0

    def outages(self, first: int, last: int) -> list[Outage]:
        """The outages that hold a minute of ``[first, last)`` or end there, in order."""
        if not self.late_every:
            return []
        slots = range((first - self.late_every) // self.late_every, last // self.late_every + 1)
        found = (_outage(self.seed, self.turbines, self.late_every, self.late_minutes, slot) for slot in slots)
        return [o for o in found if o.start < last and o.end >= first]

    def corrections(self, first: int, last: int) -> list[Correction]:
        """The corrections whose wrong minutes or re-sending fall in ``[first, last)``, in order."""
        if not self.correct_every:
            return []
        reach = self._correction_reach
        slots = range((first - reach - self.correct_every) // self.correct_every, last // self.correct_every + 1)
        found = (
            _correction(self.seed, self.turbines, self.correct_every, self.correct_minutes, self.correct_after, slot)
            for slot in slots
        )
        return [c for c in found if c.start < last and c.resent >= first]


@lru_cache(maxsize=4096)
def _outage(seed: int, turbines: int, every: int, minutes: int, slot: int) -> Outage:
    rng = np.random.default_rng([seed, OUTAGE_STREAM, slot + (1 << 40)])  # slots before 1970 stay positive
    turbine = int(rng.integers(turbines))
    start = slot * every + int(rng.integers(every - minutes - 1))  # ends at least a minute before the next slot
    return Outage(turbine, start, start + minutes)


@lru_cache(maxsize=4096)
def _correction(seed: int, turbines: int, every: int, minutes: int, after: int, slot: int) -> Correction:
    rng = np.random.default_rng([seed, CORRECTION_STREAM, slot + (1 << 40)])
    turbine = int(rng.integers(turbines))
    start = slot * every + int(rng.integers(every - minutes + 1))
    variable = CORRECTED_VARIABLES[int(rng.integers(len(CORRECTED_VARIABLES)))]
    error = rng.uniform(*CALIBRATION_ERROR) * (1 if rng.integers(2) else -1)
    return Correction(turbine, start, start + minutes, variable, round(1.0 + error, 3), start + minutes + after)


@dataclass(frozen=True)
class Delivery:
    """What one turbine sends with minute ``minute``: its rows of ``[first, minute]`` (more than one: a late
    batch, the rows of ``[first, minute)`` held by an outage)."""

    turbine: int
    first: int
    minute: int

    @property
    def late_rows(self) -> int:
        return self.minute - self.first


def deliveries(schedule: LinkSchedule, minute: int, turbines: list[int], next_minute: dict[int, int]) -> list[Delivery]:
    """What each of ``turbines`` (positions) sends with ``minute``: nothing while its link is down; its own
    row; or, the minute its link is back, the held rows of the outage from the first it has not sent yet
    (``next_minute``: the first minute of each turbine not in the source; a turbine not in it sends every held
    row) with its own."""
    outages = {o.turbine: o for o in schedule.outages(minute, minute + 1)}
    sent = []
    for turbine in turbines:
        first = minute
        outage = outages.get(turbine)
        if outage is not None and outage.holds(minute):
            continue
        if outage is not None and outage.end == minute:
            first = min(minute, max(outage.start, next_minute.get(turbine, outage.start)))
        sent.append(Delivery(turbine, first, minute))
    return sent
