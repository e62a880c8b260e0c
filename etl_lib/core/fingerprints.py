"""Fingerprints of the source's days (docs/live.md): what each (turbine, UTC day) held when it was read, and
the pure logic that compares the source's fingerprints with those a run recorded. Plain Python: the sync, the
run and Dagster (a day's data version) share it.

A fingerprint is the day's row count, a checksum of its values (16 hexadecimal digits) and its newest sample;
the source keeps them current by triggers (source revision 0007). A day whose fingerprints equal the ones its
last successful run read has not changed since; any row more, less or changed makes them differ.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from .contract import BUCKET, SAMPLE_PERIOD
from .dates import day_bounds


@dataclass(frozen=True)
class Fingerprint:
    """One turbine's day as the source holds it."""

    turbine: str
    day: dt.date
    rows: int
    checksum: str
    last_timestamp: dt.datetime | None

    @classmethod
    def from_json(cls, row: Mapping) -> Fingerprint:
        """From the API's form (``/fingerprints``, ``/data``): ``turbine, day, rows, checksum, last_timestamp``;
        ``ValueError`` (or ``KeyError``/``TypeError``) for anything else."""
        last = row["last_timestamp"]
        rows = row["rows"]
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise ValueError(f"rows {rows!r} is not a count")
        checksum = str(row["checksum"])
        if len(checksum) != 16 or any(c not in "0123456789abcdef" for c in checksum):
            raise ValueError(f"checksum {checksum!r} is not 16 hexadecimal digits")
        return cls(
            turbine=str(row["turbine"]),
            day=dt.date.fromisoformat(str(row["day"])),
            rows=rows,
            checksum=checksum,
            last_timestamp=None if last is None else _utc(dt.datetime.fromisoformat(str(last))),
        )

    def recorded(self) -> dict:
        """What a run keeps of it (``etl_run.fingerprints[turbine]``): JSON-friendly."""
        return {
            "rows": self.rows,
            "checksum": self.checksum,
            "last_timestamp": None if self.last_timestamp is None else self.last_timestamp.isoformat(),
        }


def _utc(instant: dt.datetime) -> dt.datetime:
    return instant.replace(tzinfo=dt.UTC) if instant.tzinfo is None else instant.astimezone(dt.UTC)


@dataclass(frozen=True)
class SourceFingerprints:
    """An answer's fingerprints (by day then turbine), the newest sample of its turbines from its first day on
    (None: none), and the source's version it was read from."""

    fingerprints: tuple[Fingerprint, ...]
    newest: dt.datetime | None
    version: int | None = None

    @classmethod
    def from_json(cls, rows: Iterable[Mapping], newest: str | None, version: int | None = None) -> SourceFingerprints:
        return cls(
            tuple(Fingerprint.from_json(row) for row in rows),
            None if newest is None else _utc(dt.datetime.fromisoformat(str(newest))),
            version,
        )

    @cached_property
    def _days(self) -> dict[dt.date, dict[str, Fingerprint]]:
        days: dict[dt.date, dict[str, Fingerprint]] = {}
        for fingerprint in sorted(self.fingerprints, key=lambda f: (f.day, f.turbine)):
            days.setdefault(fingerprint.day, {})[fingerprint.turbine] = fingerprint
        return days

    def by_day(self) -> dict[dt.date, dict[str, Fingerprint]]:
        """``{day: {turbine: fingerprint}}``, days in order (grouped once)."""
        return self._days

    def of_day(self, day: dt.date) -> dict[str, dict]:
        """What a run of ``day`` records: ``{turbine: {rows, checksum, last_timestamp}}``."""
        return {turbine: f.recorded() for turbine, f in self._days.get(day, {}).items()}


def complete_until(day: dt.date, newest: dt.datetime | None) -> dt.datetime | None:
    """Up to which instant ``day`` is complete, given the newest sample the source holds of the farm (from
    that day on): None when the day is over (the source holds its last minute, or a later sample); otherwise the
    end of the last 10-minute bucket whose minutes are all past (the bucket of the newest sample counts only
    when that sample is its last minute). A day with no sample yet is complete until its start."""
    start, end = day_bounds(day)
    if newest is None or newest < start:
        return start
    reached = newest + SAMPLE_PERIOD  # the newest sample's minute is past
    if reached >= end:
        return None
    return start + (reached - start) // BUCKET * BUCKET


def differences(source: Mapping[str, Mapping], recorded: Mapping[str, Mapping] | None) -> list[str]:
    """Why a day must run again: its fingerprints in the source (``{turbine: {rows, checksum, ...}}``) against
    those its last successful run recorded (None: no run, or a run from before the fingerprints). Empty: the
    day has not changed. Each reason names the turbine: ``12 rows late for WT02`` (among the minutes its run
    read), ``5 rows more for WT01, the newest at 10:39`` (the day went on past its run's newest row),
    ``values changed for WT03``, ``3 rows gone for WT01``, ``7 rows new for WT05``, ``WT04 no longer in the
    source``."""
    if recorded is None:
        return ["never run"] if source else []
    reasons = []
    for turbine in sorted(set(source) | set(recorded)):
        now, then = source.get(turbine), recorded.get(turbine)
        if then is None:
            reasons.append(f"{now['rows']} rows new for {turbine}")
        elif now is None:
            reasons.append(f"{turbine} no longer in the source")
        elif now["rows"] > then["rows"] and _later(now.get("last_timestamp"), then.get("last_timestamp")):
            # rows after the newest one the run read: a live day going on (or a batch after an outage)
            newest = dt.datetime.fromisoformat(now["last_timestamp"]).astimezone(dt.UTC)
            reasons.append(f"{now['rows'] - then['rows']} rows more for {turbine}, the newest at {newest:%H:%M}")
        elif now["rows"] > then["rows"]:
            reasons.append(f"{now['rows'] - then['rows']} rows late for {turbine}")
        elif now["rows"] < then["rows"]:
            reasons.append(f"{then['rows'] - now['rows']} rows gone for {turbine}")
        elif now["checksum"] != then["checksum"]:
            reasons.append(f"values changed for {turbine}")
    return reasons


def _later(now: str | None, then: str | None) -> bool:
    """Whether the newest sample ``now`` (ISO-8601, as recorded) is after ``then`` (None: no sample)."""
    if now is None:
        return False
    return then is None or dt.datetime.fromisoformat(now) > dt.datetime.fromisoformat(then)


def data_version(fingerprints: Mapping[str, Mapping]) -> str:
    """One string for a day's fingerprints (``{turbine: {rows, checksum, ...}}``): equal exactly when they are
    (a data version for Dagster's observable source asset)."""
    text = ";".join(f"{t}:{f['rows']}:{f['checksum']}" for t, f in sorted(fingerprints.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
