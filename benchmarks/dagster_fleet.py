"""`make bench`, Dagster through the workers: a backfill of ``DAYS`` days of the seeded farm queued in Dagster
(``etl dagster backfill``'s call), days grouped ``DAYS_PER_RUN`` per run, each step on a Celery worker over the
machine's RabbitMQ (a vhost of its own), the library path (no notebook); with 1 worker and with 2, beside
``etl backfill --workers 2`` on the same days. Into an emptied target each time.

- days per second *through the workers*: the days over the time from the first run's start to the last run's
  end (what the workers sustain once the backfill runs);
- seconds from queueing the backfill to its first run's start: Dagster's backfill daemon looks at new
  backfills every 30 s (a constant of Dagster's daemon), then the queued run coordinator starts the run.
"""

from __future__ import annotations

import datetime as dt
import time

from etl_lib.config.settings import Settings
from etl_lib.core.contract import DEFAULT_PERIOD_START
from etl_lib.orchestration.backfills import backfill_runs, queue_backfill, wait_backfill
from etl_lib.orchestration.definitions import build_defs
from harness.fleet import broker_url, fleet, instance_of, own_vhost

from .measure import connect, timed_backfill

DAYS = 60
DAYS_PER_RUN = 30
TIMEOUT_S = 600


def _empty_target(settings: Settings) -> None:
    with connect(settings.target_url) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE data")
    conn.close()


def dagster_backfill(settings: Settings, workers: int) -> dict:
    """One Dagster backfill of the days through ``workers`` workers."""
    _empty_target(settings)
    first, last = DEFAULT_PERIOD_START, DEFAULT_PERIOD_START + dt.timedelta(days=DAYS - 1)
    with (
        own_vhost() as vhost,
        fleet(settings, broker_url(vhost), workers=workers, dagster_days_per_run=DAYS_PER_RUN) as running,
    ):
        with instance_of(running) as instance:
            queued = time.time()
            backfill_id, keys = queue_backfill(instance, build_defs(running.settings), first, last)
            outcome = wait_backfill(instance, backfill_id, keys, TIMEOUT_S)
            records = [instance.get_run_record_by_id(run.run_id) for run in backfill_runs(instance, backfill_id)]
    starts = [r.start_time for r in records if r.start_time]
    ends = [r.end_time for r in records if r.end_time]
    through = max(ends) - min(starts)
    return {
        "workers": workers,
        "days": len(keys),
        "runs": outcome.runs,
        "status": outcome.status,
        "materialized": len(outcome.materialized),
        "queue_to_first_run_s": min(starts) - queued,
        "through_workers_s": through,
        "days_per_second": len(keys) / through,
        "queued_to_done_s": outcome.seconds,
    }


def bench_dagster(settings: Settings) -> dict:
    one = dagster_backfill(settings, 1)
    two = dagster_backfill(settings, 2)
    cli = timed_backfill(settings, DAYS, workers=2)
    return {
        "days": DAYS,
        "days_per_run": DAYS_PER_RUN,
        "one_worker": one,
        "two_workers": two,
        "etl_backfill_2_workers": cli,
        "speed_up_1_to_2": two["days_per_second"] / one["days_per_second"],
        "vs_etl_backfill": two["days_per_second"] / cli["days_per_second"],
    }


def rows_of(results: dict) -> list[tuple[str, str, str]]:
    d = results.get("dagster")
    if not d:
        return []
    one, two, cli = d["one_worker"], d["two_workers"], d["etl_backfill_2_workers"]
    return [
        (
            f"Dagster backfill, {d['days']} days, 2 workers",
            f"{two['days_per_second']:.2f} days/s",
            f"library path, {d['days_per_run']} days per run, {two['runs']} runs, steps on Celery workers "
            f"over RabbitMQ; {two['materialized']} materialized",
        ),
        ("  etl backfill --workers 2, same days", f"{cli['days_per_second']:.2f} days/s", "the process pool"),
        ("  Dagster / etl backfill", f"{d['vs_etl_backfill']:.2f}x", "target >= 0.5x"),
        (
            "  speed-up 1 -> 2 workers",
            f"{d['speed_up_1_to_2']:.2f}x",
            f"1 worker: {one['days_per_second']:.2f} days/s",
        ),
        (
            "  queueing to the first run",
            f"{two['queue_to_first_run_s']:.1f} s",
            "the backfill daemon's 30 s loop, then the run's start",
        ),
    ]
