"""Change tracking and ``etl sync`` on a year of a 20-turbine farm (docs/live.md): finding the changed days
(the source's fingerprints over ``GET /fingerprints`` against the target's runs, ``ops.sync.plan_sync``) and
``etl sync`` with nothing to do, as a whole process. Figures only; nothing is asserted.

In ``make bench`` it follows the year's backfill (``fleet.bench_farm_year``: every day run, each recording its
fingerprints). ``python -m benchmarks.bench sync`` measures it alone: it seeds the year and, instead of running
365 days, records for each day a succeeded run with the fingerprints the source states (``RunRecord``), which is
all a sync compares.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text

from etl_lib.config.settings import PROJECT_ROOT, Settings
from etl_lib.core.contract import DEFAULT_PERIOD_START, RunStatus
from etl_lib.ops.sync import plan_sync
from etl_lib.pipeline.extract import fetch_fingerprints
from etl_lib.storage.engines import engine_for, target_engine
from etl_lib.storage.run_record import RunRecord
from etl_lib.storage.target import ensure_target_schema

from .measure import whole_process

REPEATS = 5
CHANGED_DAYS = 3  # days whose one value is corrected before the changed days are found


def record_runs(settings: Settings, first: dt.date, days: int) -> None:
    """For the standalone measure: a succeeded run of each day recording the source's fingerprints of it."""
    engine = target_engine(settings)
    ensure_target_schema(engine)
    stated = fetch_fingerprints(settings, first, first + dt.timedelta(days=days))
    farm = None
    with engine_for(settings.source_url).connect() as conn:
        farm = conn.execute(text("SELECT name FROM farm ORDER BY id LIMIT 1")).scalar_one()
    with engine.begin() as conn:
        for day in stated.by_day():
            record = RunRecord(day, farm=farm, fingerprints=stated.of_day(day))
            record.insert(conn, RunStatus.SUCCEEDED)


def bench_sync(settings: Settings, turbines: int, days: int) -> dict:
    """Seconds to find the changed days of the year (median of ``REPEATS``): with none changed, then with
    ``CHANGED_DAYS`` days of one corrected value each; and ``etl sync`` with nothing to do, a whole process."""
    unchanged = [_timed_plan(settings) for _ in range(REPEATS)]
    command = [str(Path(sys.executable).parent / "etl"), "sync"]
    nothing = [whole_process(command, PROJECT_ROOT) for _ in range(REPEATS)]
    said = nothing[-1].stdout.strip().splitlines()[-1] if nothing[-1].stdout.strip() else ""
    with engine_for(settings.source_url).begin() as conn:
        for offset in range(CHANGED_DAYS):
            instant = dt.datetime.combine(
                DEFAULT_PERIOD_START + dt.timedelta(days=30 * (offset + 1)), dt.time(12), dt.UTC
            )
            conn.execute(
                text("UPDATE data SET power = power + 1 WHERE timestamp = :t AND turbine_id = 1"), {"t": instant}
            )
    changed = [_timed_plan(settings) for _ in range(REPEATS)]
    return {
        "turbines": turbines,
        "days": days,
        "find_unchanged_s": statistics.median(s for s, _ in unchanged),
        "found_unchanged": unchanged[-1][1],
        "find_changed_s": statistics.median(s for s, _ in changed),
        "found_changed": changed[-1][1],
        "etl_sync_nothing_s": statistics.median(p.seconds for p in nothing),
        "etl_sync_said": said,
    }


def _timed_plan(settings: Settings) -> tuple[float, int]:
    started = time.perf_counter()
    plan = plan_sync(settings)
    return time.perf_counter() - started, len(plan.days)


def rows_of(result: dict) -> list[tuple[str, str, str]]:
    year = f"{result['turbines']} turbines x {result['days']} days"
    return [
        (
            "changed days of a year, none changed",
            f"{result['find_unchanged_s'] * 1000:,.0f} ms",
            f"target <= 1 s; {year}, {result['found_unchanged']} day(s) found",
        ),
        (
            f"changed days of a year, {CHANGED_DAYS} changed",
            f"{result['find_changed_s'] * 1000:,.0f} ms",
            f"target <= 1 s; {result['found_changed']} day(s) found",
        ),
        (
            "etl sync, nothing to do (process)",
            f"{result['etl_sync_nothing_s']:.2f} s",
            f"target <= 3 s; it said: {result['etl_sync_said']!r}",
        ),
    ]
