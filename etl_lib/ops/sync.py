"""``etl sync``: run exactly the farm-days whose source changed since the target's runs read them.

The source keeps a fingerprint of every (turbine, UTC day) current as rows arrive, change or go (source
revision 0007); every run records the fingerprints of what it read (``etl_run.fingerprints``, and for a day
not over yet ``complete_until``). A sync reads the source's fingerprints of its range (one request per farm,
``GET /fingerprints``: one indexed query, no sample) and the target's newest succeeded run of each farm-day
(one query), compares them (``core.fingerprints.differences``) and runs the farm-days that are new or
changed, and the days not over yet whose complete part grew, each as a whole farm-day run
(``backfill.run_farm_days``: the same ``run_etl`` as ``etl run``, under the same per-farm-day lock), and
nothing else. ``--watch`` repeats that every N seconds until SIGINT or SIGTERM, after the run under way.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config.settings import Settings, get_settings
from ..core.dates import EARLIEST_RUN_DATE, utc_now
from ..core.errors import ConfigurationError
from ..core.fingerprints import SourceFingerprints, complete_until, differences
from .backfill import BackfillResult, run_farm_days

if TYPE_CHECKING:
    from ..storage.run_record import RecordedDay


@dataclass(frozen=True)
class DayToRun:
    """A farm-day to run and why (each reason names the turbine)."""

    day: dt.date
    farm: str
    reasons: tuple[str, ...]

    @property
    def line(self) -> str:
        """``2024-10-04 WF01: 12 rows late for WT02``."""
        return f"{self.day.isoformat()} {self.farm}: {'; '.join(self.reasons)}"


@dataclass
class SyncPlan:
    """What a sync found: the farm-days to run, and notes on days it leaves alone (and why)."""

    days: list[DayToRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fleet: bool = False  # the source holds several farms (a run then names its farm)


def day_reasons(
    day: dt.date,
    source: SourceFingerprints,
    recorded: RecordedDay | None,
) -> tuple[list[str], str | None]:
    """Why ``day`` must run again (empty: it need not), and a note when it cannot run yet. ``source``: the farm's
    fingerprints; ``recorded``: the newest succeeded run's fingerprints and ``complete_until`` (None: no run)."""
    now = source.of_day(day)
    until = complete_until(day, source.newest)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    if until is not None and until <= start:
        return [], f"{day.isoformat()}: no complete 10-minute bucket yet"
    if recorded is None:
        return (["new day" + ("" if until is None else f" (complete until {until:%H:%M})")] if now else []), None
    fingerprints, recorded_until = recorded[0], recorded[1]  # a RecordedDay: fingerprints, complete_until, ...
    if fingerprints is None:
        return ["its run recorded no fingerprints (a run from before them)"], None
    reasons = differences(now, fingerprints)
    if recorded_until is not None and until != recorded_until:
        reasons.append("now complete" if until is None else f"now complete until {until:%H:%M}")
    return reasons, None


def plan_sync(
    settings: Settings,
    start: dt.date | None = None,
    end: dt.date | None = None,
    farm: str | None = None,
) -> SyncPlan:
    """The farm-days of ``[start, end)`` (default: every day each farm has samples of, up to today) to run, by
    day then farm, each with its reasons; ``farm``: only that farm (an unknown name is an error listing the
    farms)."""
    from ..pipeline.extract import RetryPolicy, choose_farm, fetch_farms, fetch_fingerprints, make_client
    from ..storage.engines import target_engine
    from ..storage.run_record import recorded_fingerprints
    from ..storage.target import ensure_target_schema

    if start is not None and end is not None and start >= end:
        raise ConfigurationError(
            f"The days from {start.isoformat()} to {end.isoformat()} (exclusive) are no range.",
            "Give a last day on or after the first (etl sync --from 2024-10-01 --to 2024-10-01 syncs one day).",
            setting="to",
        )
    retry = RetryPolicy.from_settings(settings)
    engine = target_engine(settings)
    ensure_target_schema(engine)
    plan = SyncPlan()
    with make_client(settings) as client:
        farms = fetch_farms(client, retry=retry)
        plan.fleet = len(farms) > 1
        names = [choose_farm(farms, farm).name] if farm is not None else [site.name for site in farms]
        for name in names:
            # Default: every day the farm has samples of up to today, from the fingerprints themselves (a day
            # without samples has none): no count of the samples, as GET /coverage would make.
            first, last = start or EARLIEST_RUN_DATE, end or utc_now().date() + dt.timedelta(days=1)
            source = fetch_fingerprints(settings, first, last, farm=name, client=client)
            if start is None or end is None:
                held_days = [f.day for f in source.fingerprints]
                if not held_days:
                    plan.notes.append(f"{name}: the source has no samples of it in this range")
                    continue
                first, last = start or min(held_days), end or max(held_days) + dt.timedelta(days=1)
            recorded = recorded_fingerprints(engine, name, first, last)
            held = source.by_day()
            for day in sorted(set(held) | set(recorded)):
                if day not in held:
                    plan.notes.append(f"{day.isoformat()} {name}: no longer in the source (its run's rows are kept)")
                    continue
                reasons, note = day_reasons(day, source, recorded.get(day))
                if note:
                    plan.notes.append(f"{note} ({name})")
                if reasons:
                    plan.days.append(DayToRun(day, name, tuple(reasons)))
    plan.days.sort(key=lambda d: (d.day, d.farm))
    return plan


@dataclass
class SyncResult:
    plan: SyncPlan
    ran: BackfillResult | None  # None: nothing to do

    @property
    def ok(self) -> bool:
        return self.ran is None or self.ran.ok


def sync_once(
    settings: Settings | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    farm: str | None = None,
    *,
    say: Callable[[str], None] = print,
) -> SyncResult:
    """Plan (``plan_sync``) and run the farm-days found, saying each with its reasons, then how it went;
    ``nothing to do`` when nothing changed."""
    settings = settings or get_settings()
    plan = plan_sync(settings, start, end, farm)
    for note in plan.notes:
        say(f"  {note}")
    if not plan.days:
        say("nothing to do")
        return SyncResult(plan, None)
    for day in plan.days:
        say(f"run {day.line}")
    items = [(day.day, day.farm if plan.fleet else None) for day in plan.days]
    ran = run_farm_days(items, settings, fleet=plan.fleet)
    only_farm = plan.days[0].farm  # a source of one farm: the outcomes do not name it
    for outcome in ran.outcomes:
        label = f"{outcome.run_date.isoformat()} {outcome.farm or only_farm}"
        if outcome.skipped:
            say(f"  {label}: skipped, {outcome.skipped}")
        elif outcome.ok:
            say(f"  {label}: {outcome.rows_written} rows written in {outcome.seconds:.1f} s")
        else:
            say(f"  {label}: failed: {outcome.error}")
    return SyncResult(plan, ran)


def watch(
    seconds: float,
    settings: Settings | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    farm: str | None = None,
    *,
    say: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> int:
    """``sync_once`` every ``seconds`` until ``stop`` is set (by SIGINT or SIGTERM when called in the main thread:
    the sync under way ends first, so no day is left half-run), each round headed by when it began (UTC). A
    round that fails (the API or the target down) is said and the next one tries again. Returns the rounds."""
    if seconds <= 0:
        raise ConfigurationError(f"--watch {seconds} is not a positive number of seconds.", "Give e.g. --watch 10.")
    settings = settings or get_settings()
    stop = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    rounds = 0
    try:
        say(f"watching the source every {seconds:g} s; Ctrl-C stops")
        while not stop.is_set():
            began = time.monotonic()
            say(f"{utc_now():%Y-%m-%d %H:%M:%S}Z sync")
            try:
                sync_once(settings, start, end, farm, say=say)
            except Exception as exc:  # the next round tries again
                from .failures import as_etl_error

                say(f"  failed: {as_etl_error(exc, 'target')}")
            rounds += 1
            stop.wait(max(0.0, seconds - (time.monotonic() - began)))
        say(f"{utc_now():%Y-%m-%d %H:%M:%S}Z stopped after {rounds} round(s)")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return rounds
