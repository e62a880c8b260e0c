"""Dagster for production, against the real broker and storage: the fleet of `etl dagster fleet` (two Celery
workers on a vhost of the machine's RabbitMQ, reached through a TCP proxy this module can stop; the daemon),
its instance in PostgreSQL (a scratch database on the session's server), backfills of `daily_statistics`
through the library, days grouped per run by the asset's BackfillPolicy.

- twenty days through both workers, one worker's pool process killed mid-step: Dagster's run retry
  re-executes the run, every day equals the SQL statistics of the source and is written once;
- the daemon stopped and started again: the queued backfill and the history are still in PostgreSQL,
  and the backfill completes;
- the broker away: the run fails with the project's message (BrokerUnavailableError), and when the broker
  is back, the run's retry completes it.

The twenty days are added to the source after the seeded period for this module, and removed again.
"""

from __future__ import annotations

import datetime as dt
import signal

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterEventType, DagsterRunStatus
from sqlalchemy import text

from etl_lib.core.contract import DEFAULT_PERIOD_DAYS, DEFAULT_PERIOD_START, SOURCE_VARIABLES
from etl_lib.core.dates import day_bounds
from etl_lib.ops.fleet import daemon_command
from etl_lib.orchestration.backfills import backfill_runs, queue_backfill, wait_backfill
from etl_lib.orchestration.definitions import build_defs
from etl_lib.simulation import generator
from etl_lib.storage.copy import copy_frame
from harness.fleet import (
    broker_reachable,
    broker_url,
    fleet,
    instance_of,
    own_vhost,
    step_workers,
    tcp_proxy,
    wait_until,
    worker_pool_process,
)
from harness.process_faults import clear_day
from harness.sql import statistics_in_sql, target_day

FIRST = DEFAULT_PERIOD_START + dt.timedelta(days=DEFAULT_PERIOD_DAYS)  # the day after the seeded period
DAYS = [FIRST + dt.timedelta(days=n) for n in range(20)]
BACKFILL_S = 240  # the daemon looks at new backfills every 30 s; a retried run adds a launch

pytestmark = pytest.mark.skipif(not broker_reachable(), reason="no RabbitMQ on 127.0.0.1:5672 (the machine's broker)")


@pytest.fixture(scope="module")
def fleet_days(settings, source_engine, target_engine):
    """DAYS of the default farm in the source (removed afterwards, with what the target got of them)."""
    frames = [
        frame[["timestamp", *SOURCE_VARIABLES]].assign(turbine_id=number)
        for number, (_, frame) in enumerate(generator.generate(start=FIRST, days=len(DAYS)), start=1)
    ]
    with source_engine.begin() as conn:
        copy_frame(conn, "data", pd.concat(frames, ignore_index=True))
    try:
        yield DAYS
    finally:
        for day in DAYS:
            clear_day(source_engine, day)
            clear_day(target_engine, day)
        with target_engine.begin() as conn:
            conn.execute(text("DELETE FROM etl_run WHERE run_date BETWEEN :a AND :b"), {"a": DAYS[0], "b": DAYS[-1]})


@pytest.fixture(scope="module")
def proxy():
    with tcp_proxy() as running:
        yield running


@pytest.fixture(scope="module")
def running(settings, fleet_days, proxy):
    """Two workers and the daemon, on a vhost of their own reached through the proxy; 5 days per run, 2 runs at
    a time; a run waits 5 s for an absent broker."""
    with own_vhost() as vhost:
        overrides = {"dagster_days_per_run": 5, "dagster_max_concurrent_runs": 2, "celery_broker_wait_s": 5.0}
        with fleet(settings, broker_url(vhost, proxy.port), workers=2, **overrides) as started:
            yield started


def written_once(target_engine, days: list[dt.date], roots: set[str]) -> dict[dt.date, int]:
    """Per day, the succeeded runs of the backfill (their keys start with one of its runs' roots)."""
    with target_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT run_date, key FROM etl_run WHERE status = 'succeeded' AND run_date BETWEEN :a AND :b"),
            {"a": days[0], "b": days[-1]},
        ).all()
    counts = dict.fromkeys(days, 0)
    for day, key in rows:
        if key.split("/")[0] in roots:
            counts[day] += 1
    return counts


def assert_days_equal_the_source(source_engine, target_engine, days) -> None:
    for day in days:
        expected = statistics_in_sql(source_engine, day)
        actual = target_day(target_engine, day)
        assert expected.index.isin(actual.index).all(), day
        np.testing.assert_allclose(actual.loc[expected.index].to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-9)


def test_twenty_days_through_two_workers_and_a_worker_killed_mid_step(
    running, source_engine, target_engine, fleet_days
):
    """Without the Celery executor, pools, backfill policy and the library path, there was no run on a worker."""
    with instance_of(running) as instance:
        defs = build_defs(running.settings)
        backfill_id, keys = queue_backfill(instance, defs, fleet_days[0], fleet_days[-1])
        assert len(keys) == 20

        def a_step_on_a_worker():
            found = step_workers(instance, [run.run_id for run in backfill_runs(instance, backfill_id)])
            return next(iter(found.values()), None)

        worker = wait_until(a_step_on_a_worker, 120, "a step executing on a worker")
        worker_pool_process(running, worker.split("@")[0]).send_signal(signal.SIGKILL)
        outcome = wait_backfill(instance, backfill_id, keys, BACKFILL_S)
        runs = backfill_runs(instance, backfill_id)
        workers = set(step_workers(instance, [run.run_id for run in runs]).values())

    assert outcome.ok, outcome
    assert outcome.materialized == sorted(keys)
    retried = [run for run in runs if run.parent_run_id is not None]
    assert retried and all(run.status == DagsterRunStatus.SUCCESS for run in retried)  # Dagster's run retry
    assert outcome.failed_runs == len(retried)  # the attempt whose worker was killed, nothing else
    assert {w.split("@")[0] for w in workers} == {"worker1", "worker2"}
    roots = {run.root_run_id or run.run_id for run in runs}
    assert written_once(target_engine, fleet_days, roots) == dict.fromkeys(fleet_days, 1)
    assert_days_equal_the_source(source_engine, target_engine, fleet_days)


def test_the_daemon_restarted_keeps_the_queue_and_the_history(running, target_engine, fleet_days):
    days = fleet_days[:4]
    for day in days:
        clear_day(target_engine, day)
    with instance_of(running) as instance:
        earlier = len(instance.get_runs())
        running.stop("daemon")
        backfill_id, keys = queue_backfill(instance, build_defs(running.settings), days[0], days[-1])
    with instance_of(running) as instance:  # what a new daemon finds: the history and the queued backfill
        assert len(instance.get_runs()) == earlier > 0
        assert instance.get_backfill(backfill_id).status.value == "REQUESTED"
    running.start("daemon", daemon_command())
    with instance_of(running) as instance:
        outcome = wait_backfill(instance, backfill_id, keys, BACKFILL_S)
    assert outcome.ok and outcome.materialized == sorted(keys), outcome
    start, _ = day_bounds(days[0])
    _, end = day_bounds(days[-1])
    with target_engine.connect() as conn:
        assert conn.execute(
            text('SELECT count(*) FROM data WHERE "timestamp" >= :s AND "timestamp" < :e'), {"s": start, "e": end}
        ).scalar_one()


def test_the_broker_away_fails_the_run_with_what_to_do_and_it_resumes_when_back(
    running, proxy, source_engine, target_engine, fleet_days
):
    days = fleet_days[-3:]
    for day in days:
        clear_day(target_engine, day)
    proxy.stop()
    try:
        with instance_of(running) as instance:
            backfill_id, keys = queue_backfill(instance, build_defs(running.settings), days[0], days[-1])

            def failure_message():
                for run in backfill_runs(instance, backfill_id):
                    for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE):
                        return f"{entry.dagster_event.message}\n{entry.dagster_event.event_specific_data}"
                return None

            message = wait_until(failure_message, 120, "the run failing without its broker")
    finally:
        proxy.start()
    assert "BrokerUnavailableError" in message or "(ETL_CELERY_BROKER_URL) could not be reached" in message, message
    with instance_of(running) as instance:
        [failed] = [r for r in backfill_runs(instance, backfill_id) if r.status == DagsterRunStatus.FAILURE]
        errors = [
            str(e.dagster_event.event_specific_data)
            for e in instance.all_logs(failed.run_id)
            if e.dagster_event
            and e.dagster_event.event_type in (DagsterEventType.RUN_FAILURE, DagsterEventType.ENGINE_EVENT)
        ]
        assert any("What to do: Start RabbitMQ" in error for error in errors), errors
        outcome = wait_backfill(instance, backfill_id, keys, BACKFILL_S)
    assert outcome.ok and outcome.materialized == sorted(keys), outcome
    assert_days_equal_the_source(source_engine, target_engine, days)
