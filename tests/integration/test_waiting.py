"""Waiting is visible: while the API cannot be reached, `etl run --no-report`, `etl backfill` and the
audit notebook say at once that they retry (which attempt of how many, for how long at most); a run
that finds its date locked by another run (a run stopped inside its load transaction) says whom it
waits for after a few seconds and gives up after ETL_DAY_LOCK_WAIT_S, naming it; the target's
sessions carry lock, statement and idle-in-transaction timeouts, so a stopped run's session ends."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from etl_lib.config.settings import PROJECT_ROOT
from etl_lib.pipeline.load import day_lock_key
from etl_lib.storage.engines import target_engine
from etl_lib.storage.run_record import read_runs
from harness.fault_servers import day_rows, stack_variables
from harness.stack import free_port

ETL = str(Path(sys.executable).with_name("etl"))
RETRYING = re.compile(r"The API at (\S+) failed \(ConnectError: .*\); retrying in [\d.]+ s: attempt 2 of at most 11")


def unreachable(settings, tmp_path: Path, deadline: int) -> dict:
    return {
        **os.environ,
        **stack_variables(settings),
        "ETL_RUNS_DIR": str(tmp_path / "runs"),
        "ETL_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "ETL_HTTP_RETRY_DEADLINE": str(deadline),
    }


def test_etl_run_says_at_once_on_stderr_that_it_retries_an_unreachable_api(settings, tmp_path):
    """An API refusing connections cost 30 s of silence before the error."""
    started = time.monotonic()
    process = subprocess.Popen(
        [ETL, "run", "2024-10-02", "--no-report"],
        env=unreachable(settings, tmp_path, 8),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = process.stderr.readline()
    said = time.monotonic() - started
    rest = process.stderr.read()
    process.wait(timeout=60)
    ended = time.monotonic() - started
    assert RETRYING.search(first), first
    assert "for at most 8 s after the first" in first
    assert ended - said > 4, (said, ended)  # said while it waits, not when it gives up
    notices = [line for line in (first + rest).splitlines() if "retrying in" in line]
    assert [int(re.search(r"attempt (\d+) of", line).group(1)) for line in notices] == list(range(2, len(notices) + 2))
    assert process.returncode == 1 and "error: The API at" in rest


@pytest.mark.parametrize("workers", [1, 2])
def test_etl_backfill_says_that_it_retries_from_every_worker(settings, tmp_path, workers):
    done = subprocess.run(
        [ETL, "backfill", "2024-10-02", "2024-10-03", "--workers", str(workers)],
        env=unreachable(settings, tmp_path, 2),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    retries = [i for i, line in enumerate(lines) if RETRYING.search(line)]
    failures = [i for i, line in enumerate(lines) if line.startswith("FAILED 2024-10-0")]
    assert len(retries) >= 2 and len(failures) == 2, done.stderr  # each day said it retried
    assert max(retries) < min(failures)  # as it happened, before the summary


def test_the_audit_notebook_shows_the_retries_in_its_output(settings, tmp_path):
    """`etl run` asks the API whether the day has samples before any kernel starts (a day outside the data
    writes no report), so its retries show on its stderr and no report is made; the audit notebook run
    as the user's own papermill command shows them in its run cell's output."""
    env = unreachable(settings, tmp_path, 2)
    done = subprocess.run([ETL, "run", "2024-10-02"], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 1 and RETRYING.search(done.stderr), done.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*.ipynb"))
    report = tmp_path / "mine.ipynb"
    papermill = [str(Path(sys.executable).with_name("papermill")), str(PROJECT_ROOT / "notebooks" / "etl.ipynb")]
    done = subprocess.run(
        [*papermill, str(report), "-p", "date", "2024-10-02"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 1
    shown = [
        "".join(output.get("text", ""))
        for cell in json.loads(report.read_text())["cells"]
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
        if output.get("name") == "stderr"
    ]
    assert any(RETRYING.search(text) for text in shown), shown


def test_the_targets_sessions_have_lock_statement_and_idle_in_transaction_timeouts(settings):
    own = settings.model_copy(
        update={
            "target_lock_timeout_s": 7,
            "target_statement_timeout_s": 123,
            "target_idle_in_transaction_timeout_s": 9.5,
        }
    )
    for chosen, expected in ((settings, ("1min", "10min", "1min")), (own, ("7s", "123s", "9500ms"))):
        with target_engine(chosen).connect() as conn:
            shown = tuple(
                conn.execute(text(f"SHOW {name}")).scalar_one()
                for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
            )
        assert shown == expected


# --- a run stopped inside its load transaction ------------------------------------------------------


def _session(engine, condition: str, timeout: float = 60.0, **values) -> dict:
    """The first session of the target matching ``condition`` (SQL over pg_stat_activity ``a``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            row = conn.execute(text(f"SELECT * FROM pg_stat_activity a WHERE {condition}"), values).mappings().first()
        if row is not None:
            return dict(row)
        time.sleep(0.05)
    raise AssertionError(f"no session of the target with {condition} within {timeout} s")


@contextmanager
def stopped_in_its_load(settings, run_date: dt.date, idle_timeout_s: float, *, let_go: bool = True):
    """`etl run --no-report` of ``run_date`` stopped (SIGSTOP) inside its load transaction, holding the
    day's lock: a second session holds etl_run until the run's last insert waits on it, the run is
    stopped there, and the second session lets go (at once with ``let_go``, else when the caller calls
    the function yielded), so the run's transaction stays open and idle, its process stopped. Yields the
    process, its session and that function; the process is killed afterwards."""
    engine = target_engine(settings)
    blocker = create_engine(settings.target_url, poolclass=NullPool).connect()
    blocker.execute(text("LOCK TABLE etl_run IN EXCLUSIVE MODE"))
    env = {
        **os.environ,
        **stack_variables(settings),
        "ETL_TARGET_IDLE_IN_TRANSACTION_TIMEOUT_S": str(idle_timeout_s),
    }
    run = subprocess.Popen(
        [ETL, "run", run_date.isoformat(), "--no-report"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    holder: dict = {}

    def release() -> dict:
        """The second session lets go; the stopped run's session is then idle in its transaction."""
        blocker.rollback()
        blocker.close()
        return _session(engine, "a.pid = :pid AND a.state = 'idle in transaction'", pid=holder["pid"])

    try:
        holder = _session(engine, "a.wait_event_type = 'Lock' AND a.query ILIKE 'INSERT INTO etl_run%%'")
        os.kill(run.pid, signal.SIGSTOP)
        yield run, release() if let_go else holder, release
    finally:
        if not blocker.closed:
            blocker.rollback()
            blocker.close()
        run.kill()  # a stopped process is killed too; its session ends, its transaction rolls back
        run.communicate(timeout=30)


def test_a_run_waiting_for_a_stopped_run_of_its_date_says_so_and_gives_up_naming_it(settings, target_engine):
    """The second run waited without a word (75 s and counting); now it names the holder after a few
    seconds and ends after ETL_DAY_LOCK_WAIT_S with a clear error. The day keeps its rows."""
    day = dt.date(2024, 10, 9)
    before = day_rows(target_engine, day)
    with stopped_in_its_load(settings, day, idle_timeout_s=600) as (stopped, holder, _):
        assert f"wind-etl {day} run " in holder["application_name"]
        assert holder["application_name"].endswith(f"pid {stopped.pid}")
        started = time.monotonic()
        waiting = subprocess.Popen(
            [ETL, "run", day.isoformat(), "--no-report"],
            env={**os.environ, **stack_variables(settings), "ETL_DAY_LOCK_WAIT_S": "8"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        watchdog = threading.Timer(60, waiting.kill)  # a run that waits without end must not hang the test
        watchdog.start()
        try:
            first = waiting.stderr.readline()
            said = time.monotonic() - started
            rest = waiting.stderr.read()
            waiting.wait(timeout=60)
        finally:
            watchdog.cancel()
        ended = time.monotonic() - started
    assert first.startswith(f"Waiting for another run of {day} to finish writing it: the day's lock is held by ")
    assert f"PostgreSQL session {holder['pid']} ('{holder['application_name']}', idle in transaction" in first
    assert "Giving up after 8 s (ETL_DAY_LOCK_WAIT_S)." in first
    assert ended - said > 3  # said while it waits
    assert waiting.returncode == 1
    assert rest.startswith(f"error: Another run of {day} has been writing that day for more than 8 s")
    assert f"PostgreSQL session {holder['pid']}" in rest and f"pid {stopped.pid}" in rest
    assert "What to do: Wait for that run to finish" in rest and "pg_terminate_backend" in rest
    record = read_runs(target_engine, day).iloc[-1]
    assert record["status"] == "failed" and "has been writing that day" in record["error"]
    assert day_rows(target_engine, day) == before  # the stopped run's transaction never committed


def test_a_stopped_runs_session_ends_after_the_idle_timeout_and_the_waiting_run_then_writes(settings, target_engine):
    """The second run is already waiting in the lock's queue when the stopped run's session turns idle; the
    server ends that session after its idle-in-transaction timeout, and the second run writes the day."""
    day = dt.date(2024, 10, 9)
    before = day_rows(target_engine, day)
    with stopped_in_its_load(settings, day, idle_timeout_s=4, let_go=False) as (_stopped, holder, release):
        waiting = subprocess.Popen(
            [ETL, "run", day.isoformat(), "--no-report"],
            env={**os.environ, **stack_variables(settings), "ETL_DAY_LOCK_WAIT_S": "60"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _session(target_engine, "a.wait_event = 'advisory' AND a.pid <> :pid", pid=holder["pid"])
            release()
            _, stderr = waiting.communicate(timeout=120)
        finally:
            waiting.kill()
        with target_engine.connect() as conn:
            gone = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": holder["pid"]})
            assert gone.scalar_one() == 0  # the server ended the stopped run's session
    assert waiting.returncode == 0, stderr
    assert "Waiting for another run of 2024-10-09" in stderr
    assert re.search(r"The day's lock of 2024-10-09 is free after \d+\.\d s; writing\.", stderr)
    assert day_rows(target_engine, day) == before
    with target_engine.connect() as conn:
        assert not conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k"), {"k": day_lock_key(day)}
        ).scalar_one()
