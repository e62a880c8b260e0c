"""``etl feed``: the live source. Each minute's samples of every turbine are appended to the source's ``data``
as the minute ends, on a simulated clock that runs ``speed`` simulated minutes per real minute (1: real time;
None: as fast as the database takes them), with the delays of real links (``links``): a turbine whose link is
down sends nothing, then its held rows in one batch; values sent wrong are re-sent corrected, which UPDATEs the
rows in place (a historian overwrites the value at the same turbine and timestamp; nothing is deleted).

The samples are the simulator's: the fleet is rebuilt from the source's own tables (farms, models, turbines,
checked against where the simulator puts them), and each turbine's series is ``generator``'s from the source's
first day, with the documented ``faults`` (unless clean), so feeding after ``etl seed --days N`` continues the
seeded series: its minutes are those a seed of more days would have made.

Each minute is one transaction: its rows (with any late batch), its corrections and its status-log events
(``turbine_event``: an event starts where a turbine's state changes and stays open, ``end_time`` null, until
the next one starts, which closes it; one the seed closed at its period's end is reopened when the state goes
on). A stop (``stop`` set, by Ctrl-C or SIGTERM) ends between minutes. The feed resumes where the source ends:
the next minute after the newest sample of the fed turbines, with the held rows of an outage that was under
way. The source's version (``source_state``) is never raised: appending and correcting are ordinary changes,
not a replacement of the source.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, Engine, insert, text

from ..core.contract import DEFAULT_SEED, SOURCE_VARIABLES
from ..core.errors import ConfigurationError, EtlError
from ..storage.copy import copy_rows
from ..storage.fleet import model_from_row
from ..storage.source import source_data, turbine_event
from . import generator
from .faults import DEFAULT_FAULTS, Fault, inject
from .links import LinkSchedule, deliveries, minute_index, minute_time

REPORT_EVERY_S = 5.0  # at most one line per this many seconds
HORIZON_DAYS = 1  # the simulation is generated this many days ahead of the minute it needs
LOCK_KEY = 0x0E7F_EED0  # pg advisory lock: one feed per source
POSITION_TOLERANCE = 1e-6  # degrees: a turbine stands where the simulator puts it


class FeedError(EtlError):
    """The feed cannot go on: another feed holds the source, or the source was replaced under it."""


@dataclass(frozen=True)
class FeedOptions:
    start: dt.datetime | None = None  # first minute to feed (None: where the source ends)
    until: dt.datetime | None = None  # stop before this minute
    minutes: int | None = None  # stop after this many minutes
    speed: float | None = 1.0  # simulated minutes per real minute; None: as fast as possible
    farm: str | None = None  # only this farm's turbines (None: every farm)
    seed: int = DEFAULT_SEED
    clean: bool = False  # without the documented faults (as `etl seed --clean`)
    schedule: dict = field(default_factory=dict)  # LinkSchedule's minutes (late_every, …)


@dataclass
class FeedTotals:
    minutes: int = 0
    rows: int = 0
    late_batches: int = 0
    late_rows: int = 0
    corrections: int = 0
    corrected_rows: int = 0
    events: int = 0

    def add(self, other: FeedTotals) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class FeedResult:
    start: dt.datetime  # the first minute fed
    next: dt.datetime  # the first minute not fed
    totals: FeedTotals
    stopped: bool  # by a signal (else: --until or --minutes reached)
    notes: list[str]


# --- the fleet, as the source holds it -------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceTurbine:
    id: int
    name: str
    farm: str
    member: generator.FarmTurbine  # the simulator's turbine
    index: int  # its place in its farm (its random streams)
    end: int | None  # the minute after its newest sample (None: none)


@dataclass(frozen=True)
class Source:
    turbines: list[SourceTurbine]  # every turbine of the source, by id
    farms: dict[str, list[generator.FarmTurbine]]  # the simulator's farms, by name
    origin: dt.date  # the source's first day: where the simulation starts
    version: int


def read_source(engine: Engine) -> Source:
    """The source's fleet rebuilt as the simulator's (refused when its turbines are not where the simulator would
    put them), each turbine's end, the source's first day and version."""
    with engine.connect() as conn:
        farms = conn.execute(text("SELECT id, name, latitude, longitude, elevation FROM farm ORDER BY id")).all()
        models = {
            row["name"]: model_from_row(row) for row in conn.execute(text("SELECT * FROM turbine_model")).mappings()
        }
        rows = conn.execute(
            text(
                "SELECT t.id, t.name, t.farm_id, t.model, t.latitude, t.longitude, "
                "(SELECT max(timestamp) FROM data d WHERE d.turbine_id = t.id) AS last, "
                "(SELECT min(timestamp) FROM data d WHERE d.turbine_id = t.id) AS first "
                "FROM turbine t ORDER BY t.id"
            )
        ).all()
        version = conn.execute(text("SELECT version FROM source_state")).scalar_one()
    firsts = [row.first for row in rows if row.first is not None]
    if not rows or not firsts:
        raise ConfigurationError(
            "The source has no samples to continue: the feed continues a seeded fleet.",
            "Seed it first (etl seed, with the farms and turbines you want), then etl feed.",
        )
    spacing = max((m.rotor_diameter or 90.0 for m in models.values()), default=90.0)
    sites = {f.id: generator.Site(f.name, f.id, f.latitude, f.longitude, f.elevation) for f in farms}
    by_farm: dict[str, list[generator.FarmTurbine]] = {f.name: [] for f in farms}
    turbines = []
    for row in rows:
        at = sites[row.farm_id]
        index = len(by_farm[at.name])
        line, column = divmod(index, generator.PER_ROW)
        member = generator.FarmTurbine(
            row.name, models[row.model], 5 * spacing * column, 7 * spacing * line, at.elevation, at
        )
        if (
            abs(member.latitude - row.latitude) > POSITION_TOLERANCE
            or abs(member.longitude - row.longitude) > POSITION_TOLERANCE
        ):
            raise ConfigurationError(
                f"Turbine {row.name} of the source does not stand where the simulator puts the {index + 1}. turbine "
                f"of farm {at.name}: the source is not a fleet `etl seed` made, so the feed cannot continue it.",
                "Seed the source with etl seed (--farms, --turbines, --models as you like), then etl feed.",
            )
        by_farm[at.name].append(member)
        end = None if row.last is None else minute_index(row.last) + 1
        turbines.append(SourceTurbine(row.id, row.name, at.name, member, index, end))
    return Source(turbines, by_farm, min(firsts).astimezone(dt.UTC).date(), version)


# --- the simulation over a window of minutes -----------------------------------------------------------------


@dataclass
class Window:
    """The fed turbines' simulated minutes ``[first, last)``: rows (by fed turbine) of values as first sent
    (``sent``), as true (``true``), the state (status code) and whether the row exists at all (a ``gap`` fault)."""

    first: int
    last: int
    true: dict[str, np.ndarray]
    sent: dict[str, np.ndarray]
    wrong_until: np.ndarray  # a row delivered before this minute is sent with the wrong values
    state: np.ndarray
    present: np.ndarray

    def at(self, minute: int) -> int:
        return minute - self.first


def simulate(
    source: Source, fed: list[int], schedule: LinkSchedule, first: int, last: int, seed: int, faults
) -> Window:
    """The fed turbines (positions in ``source.turbines``) over ``[first, last)`` (minute indices): the generator's
    series from the source's first day, the documented faults injected as the seed does, and the wrong values of
    the schedule's corrections."""
    origin = minute_index(dt.datetime.combine(source.origin, dt.time(), dt.UTC))
    days = math.ceil((last - origin) / 1440)
    n = last - first
    true = {v: np.empty((len(fed), n)) for v in SOURCE_VARIABLES}
    sent = {v: np.empty((len(fed), n)) for v in SOURCE_VARIABLES}
    wrong_until = np.full((len(fed), n), np.iinfo(np.int64).min, dtype=np.int64)
    state = np.empty((len(fed), n), dtype=np.int64)
    present = np.empty((len(fed), n), dtype=bool)
    corrections = schedule.corrections(first, last)
    skies: dict[str, generator.Weather] = {}
    for row, position in enumerate(fed):
        turbine = source.turbines[position]
        farm = source.farms[turbine.farm]
        if turbine.farm not in skies:
            skies[turbine.farm] = generator.weather(source.origin, days, seed, at=farm[0].site)
        frame = generator.turbine_samples(farm, turbine.index, skies[turbine.farm], seed)
        frame = inject(frame, faults, seed, turbine=turbine.name, farm=turbine.farm)
        frame = frame.iloc[first - origin : last - origin].reset_index(drop=True)
        ours = [c for c in corrections if c.turbine == position]
        wrong = inject(
            frame,
            [
                Fault("scaled", minute_time(c.start), c.end - c.start, c.variable, c.factor, turbine=turbine.name)
                for c in ours
            ],
            seed,
            turbine=turbine.name,
        )
        for variable in SOURCE_VARIABLES:
            true[variable][row] = frame[variable].to_numpy(dtype=float)
            sent[variable][row] = wrong[variable].to_numpy(dtype=float)
        for c in ours:
            span = slice(max(c.start, first) - first, max(min(c.end, last) - first, 0))
            wrong_until[row, span] = c.resent
        state[row] = frame["state"].to_numpy()
        present[row] = frame["present"].to_numpy()
    return Window(first, last, true, sent, wrong_until, state, present)


# --- one minute: its transaction ------------------------------------------------------------------------------

_CORRECT = text(
    "UPDATE data AS d SET "
    + ", ".join(f"{v} = u.{v}" for v in SOURCE_VARIABLES)
    + " FROM unnest(CAST(:stamps AS timestamptz[]), "
    + ", ".join(f"CAST(:{v} AS float8[])" for v in SOURCE_VARIABLES)
    + ") AS u(timestamp, "
    + ", ".join(SOURCE_VARIABLES)
    + ") WHERE d.turbine_id = :turbine AND d.timestamp = u.timestamp AND ("
    + " OR ".join(f"d.{v} IS DISTINCT FROM u.{v}" for v in SOURCE_VARIABLES)
    + ")"
)
_CLOSE = text(
    "UPDATE turbine_event SET end_time = :at WHERE turbine_id = :turbine AND end_time IS NULL AND start_time < :at"
)
_REOPEN = text("UPDATE turbine_event SET end_time = NULL WHERE id = :id")


@dataclass
class LogState:
    """Per fed turbine, the newest event of its log when the feed began: reopened, extended or closed at the
    turbine's first fed minute (``pending``), after which the generated states decide."""

    pending: dict[int, tuple | None]  # turbine id: (event id, start, end, code) of its newest event, or None


def _latest_events(conn: Connection, ids: list[int]) -> dict[int, tuple]:
    rows = conn.execute(
        text(
            "SELECT DISTINCT ON (turbine_id) turbine_id, id, start_time, end_time, code FROM turbine_event "
            "WHERE turbine_id = ANY(:ids) ORDER BY turbine_id, start_time DESC"
        ),
        {"ids": ids},
    ).all()
    newest = {r.turbine_id: (r.id, r.start_time, r.end_time, r.code) for r in rows}
    return {turbine: newest.get(turbine) for turbine in ids}


def _stamps(minutes: np.ndarray) -> np.ndarray:
    return (np.datetime64("1970-01-01T00:00", "m") + minutes.astype("timedelta64[m]")).astype("datetime64[us]")


@dataclass
class Step:
    totals: FeedTotals
    late: list[str]  # "WT03 15 rows from 13:20"
    corrected: list[str]  # "WT02 power 10 rows"


def feed_minute(
    conn: Connection,
    source: Source,
    fed: list[int],
    window: Window,
    schedule: LinkSchedule,
    minute: int,
    next_minute: dict[int, int],
    log: LogState,
) -> Step:
    """Write minute ``minute``: what each fed turbine sends with it (``links.deliveries``), the corrections re-sent
    with it and the events that start in what is sent. Inside ``conn``'s transaction; updates ``next_minute``."""
    rows = {p: r for r, p in enumerate(fed)}
    sent = deliveries(schedule, minute, fed, next_minute)
    totals, late, corrected = FeedTotals(minutes=1), [], []
    ids, minutes, values, nulls = [], [], {v: [] for v in SOURCE_VARIABLES}, {v: [] for v in SOURCE_VARIABLES}
    closes, opens = [], []
    for delivery in sent:
        turbine = source.turbines[delivery.turbine]
        row = rows[delivery.turbine]
        span = np.arange(max(delivery.first, next_minute.get(delivery.turbine, delivery.first)), minute + 1)
        at = span - window.first
        keep = window.present[row, at]
        wrong = minute < window.wrong_until[row, at]
        ids.append(np.full(int(keep.sum()), turbine.id))
        minutes.append(span[keep])
        for v in SOURCE_VARIABLES:
            chosen = np.where(wrong, window.sent[v][row, at], window.true[v][row, at])[keep]
            values[v].append(chosen)
            nulls[v].append(np.isnan(chosen))
        if len(span) > 1:
            totals.late_batches += 1
            totals.late_rows += int(keep[:-1].sum())
            late.append(f"{turbine.name} {int(keep[:-1].sum())} rows from {_hhmm(int(span[0]))}")
        totals.rows += int(keep.sum())
        closes_, opens_ = _events(turbine, window, row, span, log, conn)
        closes += closes_
        opens += opens_
        next_minute[delivery.turbine] = minute + 1
    if ids:
        stacked = np.concatenate(minutes)
        copy_rows(
            conn,
            source_data.name,
            {
                "turbine_id": np.concatenate(ids),
                "timestamp": _stamps(stacked),
                **{v: np.concatenate(values[v]) for v in SOURCE_VARIABLES},
            },
            {v: np.concatenate(nulls[v]) for v in SOURCE_VARIABLES},
        )
    for correction in schedule.corrections(minute, minute + 1):
        if correction.resent != minute or correction.turbine not in rows:
            continue
        row, turbine = rows[correction.turbine], source.turbines[correction.turbine]
        span = np.arange(max(correction.start, window.first), correction.end)
        at = span - window.first
        keep = window.present[row, at]
        changed = conn.execute(
            _CORRECT,
            {
                "turbine": turbine.id,
                "stamps": [minute_time(int(m)) for m in span[keep]],
                **{v: [_none(x) for x in window.true[v][row, at][keep]] for v in SOURCE_VARIABLES},
            },
        ).rowcount
        if not changed:  # rows sent right in the first place (by the seed, or before this feed's start)
            continue
        totals.corrections += 1
        totals.corrected_rows += changed
        corrected.append(f"{turbine.name} {correction.variable} {changed} rows from {_hhmm(correction.start)}")
    if closes:
        conn.execute(_CLOSE, closes)
    if opens:
        conn.execute(insert(turbine_event), opens)
        totals.events += len(opens)
    return Step(totals, late, corrected)


def _events(
    turbine: SourceTurbine, window: Window, row: int, span: np.ndarray, log: LogState, conn: Connection
) -> tuple[list[dict], list[dict]]:
    """The events of ``turbine`` that start in ``span`` (its minutes sent now): the open one closed at the first
    change, each new one closed at the next, the last left open."""
    codes = window.state[row, span - window.first]
    first = int(span[0])
    previous = None  # the state the log's open event says (None: a new event starts with the first minute)
    if turbine.id in log.pending:  # the turbine's first minute of this feed: its log as the feed found it
        latest = log.pending.pop(turbine.id)
        if latest is not None:
            event_id, _, end, code = latest
            if code == codes[0] and (end is None or end == minute_time(first)):
                if end is not None:
                    conn.execute(_REOPEN, {"id": event_id})  # closed at the seed's end: the state goes on
                previous = int(code)
    else:
        previous = int(window.state[row, first - 1 - window.first])
    changes = [i for i in range(len(codes)) if (codes[i] != previous if i == 0 else codes[i] != codes[i - 1])]
    if not changes:
        return [], []
    at = [minute_time(int(span[i])) for i in changes]
    closes = [{"turbine": turbine.id, "at": at[0]}]
    opens = [
        {
            "turbine_id": turbine.id,
            "start_time": at[k],
            "end_time": at[k + 1] if k + 1 < len(at) else None,
            "code": int(codes[i]),
        }
        for k, i in enumerate(changes)
    ]
    return closes, opens


def check_continuation(engine: Engine, source: Source, fed: list[int], window: Window, options: FeedOptions) -> None:
    """Refuse to resume a source whose newest samples are not the simulator's under the feed's seed (and faults):
    every fed turbine's newest row differs from what the simulator sent or corrected for that minute. The feed
    would go on, but from another simulation than the one the source holds."""
    newest = {
        source.turbines[p].id: (row, source.turbines[p].end - 1) for row, p in enumerate(fed) if source.turbines[p].end
    }
    newest = {t: (row, m) for t, (row, m) in newest.items() if m >= window.first}
    if not newest:
        return
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT d.turbine_id, " + ", ".join(f"d.{v}" for v in SOURCE_VARIABLES) + " FROM data d "
                "JOIN unnest(CAST(:ids AS int[]), CAST(:stamps AS timestamptz[])) AS n(id, at) "
                "ON d.turbine_id = n.id AND d.timestamp = n.at"
            ),
            {"ids": list(newest), "stamps": [minute_time(m) for _, m in newest.values()]},
        ).all()
    for found in rows:
        row, minute = newest[found.turbine_id]
        ours = np.array([np.nan if x is None else x for x in found[1:]], dtype=float)
        for kind in (window.true, window.sent):
            simulated = np.array([kind[v][row, minute - window.first] for v in SOURCE_VARIABLES])
            if np.allclose(ours, simulated, rtol=0, atol=1e-9, equal_nan=True):
                return
    if rows:
        raise ConfigurationError(
            f"The newest samples of the source are not the simulator's with --seed {options.seed}"
            f"{' and --clean' if options.clean else ''}: feeding would continue another simulation than the one "
            "the source holds.",
            "Give etl feed the --seed (and --clean) that etl seed was given, or --start a later minute to accept "
            "a break in the series.",
        )


def _none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _hhmm(minute: int) -> str:
    return minute_time(minute).strftime("%H:%M")


# --- the loop ------------------------------------------------------------------------------------------------


def plan_start(
    source: Source, fed: list[int], start: dt.datetime | None, schedule: LinkSchedule
) -> tuple[int, dict[int, int], list[str]]:
    """The first minute to feed (``start``, else where the fed turbines' samples end), each fed turbine's first
    minute not in the source, and notes of the gaps a later ``start`` leaves. Refused: a ``start`` inside the
    source, and resuming where a turbine is behind the others for another reason than an outage under way."""
    ends = [source.turbines[p].end for p in fed if source.turbines[p].end is not None]
    end = max(ends) if ends else None
    if start is None:
        if end is None:
            raise ConfigurationError(
                "The farm fed has no samples: nowhere to resume.", "Give --start, e.g. --start 2024-10-11T00:00Z."
            )
        first = end
    else:
        if start.tzinfo is None or start.second or start.microsecond:
            raise ConfigurationError(
                f"--start {start.isoformat()} is not a UTC minute.", "Give a minute like 2024-10-11T00:00Z."
            )
        first = minute_index(start)
        if end is not None and first < end:
            raise ConfigurationError(
                f"--start {start.isoformat()} is before the end of the source ({minute_time(end).isoformat()}): "
                "its minutes are there already (the key turbine_id, timestamp allows one row each).",
                "Leave --start out to resume where the source ends, or give a later minute.",
            )
    origin = minute_index(dt.datetime.combine(source.origin, dt.time(), dt.UTC))
    if first <= origin:
        raise ConfigurationError(
            f"--start is not after the source's first day ({source.origin}).", "Give a later --start."
        )
    # A turbine whose samples end before the others' is behind: an outage under way when the last feed stopped
    # (its held rows come with the outage's batch), or a gap (another farm fed alone, samples deleted).
    under_way = {o.turbine: o for o in schedule.outages(first - schedule.lookback - 1, first + 1) if o.end >= first}
    next_minute, behind = {}, []
    for p in fed:
        own = source.turbines[p].end
        outage = under_way.get(p)
        if own is None or start is not None:
            next_minute[p] = first
        else:
            next_minute[p] = own
        if own is not None and own < first and not (outage is not None and outage.start <= own and start is None):
            behind.append((p, own))
    notes = []
    if behind and start is None:
        lag = min(own for _, own in behind)
        names = ", ".join(source.turbines[p].name for p, _ in behind)
        farms = sorted({source.turbines[p].farm for p, _ in behind})
        raise ConfigurationError(
            f"The samples of {names} end at {_iso(lag)}, before the others' ({_iso(first)}): resuming at "
            f"{_iso(first)} would leave them a gap.",
            f"Feed {' and '.join(farms)} alone up to there first (etl feed --farm {farms[0]} --until "
            f"{minute_time(first):%Y-%m-%dT%H:%MZ}), or give --start {minute_time(first):%Y-%m-%dT%H:%MZ} to "
            "leave the gap.",
        )
    for p, own in behind:
        notes.append(f"{source.turbines[p].name}: the minutes from {_iso(own)} to {_iso(first)} stay without samples")
    return first, next_minute, notes


def _iso(minute: int) -> str:
    return minute_time(minute).strftime("%Y-%m-%d %H:%M UTC")


def run_feed(
    engine: Engine,
    options: FeedOptions,
    *,
    stop: threading.Event,
    echo: Callable[[str], None] = print,
    clock: Callable[[], float] = time.monotonic,
    report_every: float = REPORT_EVERY_S,
) -> FeedResult:
    """Feed the source minute by minute until ``options.until`` or ``options.minutes``, or until ``stop`` is set
    (between two minutes: each minute is one transaction). One line to ``echo`` at most every ``report_every``
    seconds: what was appended, the late batches, the corrections."""
    if options.speed is not None and not options.speed > 0:
        raise ConfigurationError(f"--speed {options.speed} is not a speed.", "Give a positive number, or max.")
    if options.minutes is not None and options.minutes < 1:
        raise ConfigurationError(f"--minutes {options.minutes} feeds nothing.", "Give 1 or more.")
    source = read_source(engine)
    if options.farm is not None and options.farm not in source.farms:
        raise ConfigurationError(
            f"The source has no farm {options.farm!r}.", f"Give one of {', '.join(source.farms)} or leave --farm out."
        )
    fed = [p for p, t in enumerate(source.turbines) if options.farm in (None, t.farm)]
    schedule = LinkSchedule(len(source.turbines), options.seed, **options.schedule)
    first, next_minute, notes = plan_start(source, fed, options.start, schedule)
    until = minute_index(options.until) if options.until is not None else None
    if until is not None and until <= first:
        raise ConfigurationError(
            f"--until {options.until.isoformat()} is not after the first minute to feed ({_iso(first)}).",
            "Give a later --until.",
        )
    faults = () if options.clean else DEFAULT_FAULTS
    with engine.connect() as lock:
        if not lock.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar_one():
            raise FeedError(
                "Another etl feed is writing to this source.", "Stop it first (Ctrl-C in its terminal), or let it run."
            )
        lock.commit()
        try:
            return _loop(
                engine,
                source,
                fed,
                schedule,
                first,
                next_minute,
                until,
                options,
                faults,
                stop,
                echo,
                clock,
                report_every,
                notes,
            )
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            lock.commit()


def _loop(
    engine, source, fed, schedule, first, next_minute, until, options, faults, stop, echo, clock, report_every, notes
) -> FeedResult:
    for note in notes:
        echo(note)
    names = ", ".join(sorted({source.turbines[p].farm for p in fed}))
    pace = "as fast as it goes" if options.speed is None else f"{options.speed:g} simulated minute(s) per minute"
    echo(f"feeding {len(fed)} turbine(s) of {names} from {_iso(first)}, {pace}; Ctrl-C stops after a whole minute")
    with engine.connect() as conn:
        log = LogState(_latest_events(conn, [source.turbines[p].id for p in fed]))
    lookback = schedule.lookback + 1

    def make_window(minute: int) -> Window:
        low = min([minute - lookback, *(m - 1 for m in next_minute.values())])
        high = (minute // 1440 + 1 + HORIZON_DAYS) * 1440
        return simulate(source, fed, schedule, low, high, options.seed, faults)

    window = make_window(first)
    if options.start is None:
        check_continuation(engine, source, fed, window, options)
    totals, pending, since = FeedTotals(), FeedTotals(), None
    late, corrected = [], []
    began, last_line = clock(), -math.inf
    minute = first
    while not stop.is_set():
        if (until is not None and minute >= until) or (
            options.minutes is not None and totals.minutes >= options.minutes
        ):
            break
        if options.speed is not None:
            due = began + (minute + 1 - first) * 60.0 / options.speed
            if stop.wait(max(0.0, due - clock())):
                break
        if minute >= window.last or minute - lookback < window.first:
            window = make_window(minute)
        with engine.begin() as conn:
            conn.execute(text("LOCK TABLE data, turbine_event IN ROW EXCLUSIVE MODE"))
            version = conn.execute(text("SELECT version FROM source_state")).scalar_one()
            if version != source.version:
                raise FeedError(
                    f"The source was replaced (its version went from {source.version} to {version}, e.g. by etl "
                    f"seed) while feeding; nothing of {_iso(minute)} was written.",
                    "Start etl feed again: it continues the new source where it ends.",
                )
            step = feed_minute(conn, source, fed, window, schedule, minute, next_minute, log)
        since = minute if since is None else since
        totals.add(step.totals)
        pending.add(step.totals)
        late += step.late
        corrected += step.corrected
        minute += 1
        if clock() - last_line >= report_every:
            echo(_line(since, minute, pending, late, corrected))
            pending, since, late, corrected, last_line = FeedTotals(), None, [], [], clock()
    if since is not None:
        echo(_line(since, minute, pending, late, corrected))
    return FeedResult(minute_time(first), minute_time(minute), totals, stop.is_set(), notes)


def _line(since: int, minute: int, totals: FeedTotals, late: list[str], corrected: list[str]) -> str:
    span = _iso(since) if minute - since == 1 else f"{_iso(since)} to {minute_time(minute - 1):%H:%M}"
    line = f"{span}: +{totals.rows} rows ({totals.minutes} minute(s))"
    if late:
        line += f"; late: {', '.join(late)}"
    if corrected:
        line += f"; corrected: {', '.join(corrected)}"
    if totals.events:
        line += f"; {totals.events} event(s)"
    return line
