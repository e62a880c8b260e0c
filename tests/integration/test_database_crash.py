"""The embedded database crashing or stopping under the project, on a throw-away stack of this module's
own (the session's stack is never stopped): `etl stack up` after the postmaster was SIGKILLed brings it
back, waiting for its recovery; a database stopped while a notebook writes the day shows the project's
own error, never psycopg2's `SystemError: <function decode …> returned a result with an exception set`."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import text

from etl_lib.ops import embedded_postgres
from etl_lib.storage.engines import engine_for
from harness.fault_servers import _waiting_copy_pid, day_rows, stack_variables
from harness.stack import temporary_stack

ETL = str(Path(sys.executable).with_name("etl"))
DAY = dt.date(2024, 10, 2)


@pytest.fixture(scope="module")
def own(settings):
    with temporary_stack(days=2, export_env=False) as own:
        yield own


def env_of(own) -> dict[str, str]:
    return {**os.environ, **stack_variables(own), "ETL_API_PORT": str(own.api_port)}


def test_a_database_stopped_while_a_notebook_writes_the_day_shows_the_projects_error(own):
    """The notebook's COPY waits on a row another session inserted, uncommitted; the server is then stopped
    (pg_ctl stop -m fast): every session is ended under it."""
    engine = engine_for(own.target_url)
    signal_id, timestamp, value = day_rows(engine, DAY)[0]
    with engine.begin() as conn:
        conn.execute(
            text('DELETE FROM data WHERE signal_id = :i AND "timestamp" = :t'), {"i": signal_id, "t": timestamp}
        )
    blocker = engine.raw_connection()
    try:
        blocker.cursor().execute(
            'INSERT INTO data (signal_id, "timestamp", value) VALUES (%s, %s, %s)', (signal_id, timestamp, value)
        )
        run = subprocess.Popen(
            [ETL, "run", DAY.isoformat()], env=env_of(own), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        _waiting_copy_pid(engine, exclude=blocker.driver_connection.info.backend_pid)
        embedded_postgres.stop(own.pgdata)
        _, stderr = run.communicate(timeout=180)
    finally:
        blocker.invalidate()
        engine.dispose()
        embedded_postgres.start(own.pgdata)
    [failed] = own.runs_dir.glob(f"{DAY}.*.ipynb")  # a failed run keeps its own report (runs/DATE.KEY)
    report = json.loads(failed.read_text())
    errors = [
        output for cell in report["cells"] for output in cell.get("outputs", []) if output["output_type"] == "error"
    ]
    streams = "".join("".join(o.get("text", "")) for c in report["cells"] for o in c.get("outputs", []))
    assert run.returncode == 1
    assert stderr.startswith("error: The ETL notebook failed with TargetWriteError: Writing 2024-10-02"), stderr
    assert "The target's server ended the connection" in stderr and "etl doctor" in stderr
    assert [error["ename"] for error in errors] == ["TargetWriteError"]
    assert "SystemError" not in stderr and "SystemError" not in streams and "decode" not in stderr


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_stack_up_after_the_postmaster_was_killed_waits_for_the_servers_recovery(own):
    """SIGKILL leaves the postmaster a zombie for a while and the data to recover; the first `etl stack up`
    failed in 0.7 s telling you to run `etl stack up`."""
    postmaster = int((own.pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(postmaster)  # dead, or a zombie nobody has reaped yet
    done = subprocess.run([ETL, "stack", "up"], env=env_of(own), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "database : running" in done.stdout and "api      : running" in done.stdout
    new = int((own.pgdata / "postmaster.pid").read_text().split()[0])
    assert new != postmaster and psutil.Process(new).status() != psutil.STATUS_ZOMBIE
    log = (own.pgdata / "log").read_text()
    assert "automatic recovery in progress" in log or "not properly shut down" in log
    again = subprocess.run(
        [ETL, "run", DAY.isoformat(), "--no-report"], env=env_of(own), capture_output=True, text=True, timeout=180
    )
    assert again.returncode == 0, again.stderr


def test_a_target_that_cannot_be_reached_is_the_projects_error_in_a_run_and_its_notebook(settings, tmp_path):
    """Not only the load's COPY: wherever the run meets the target gone, it raises the project's own
    DatabaseError naming the target (a notebook's cell showed SQLAlchemy's OperationalError and its
    traceback)."""
    from etl_lib.core.errors import DatabaseError
    from etl_lib.pipeline.run import run_etl

    gone = settings.target_url.replace("/target?", "/no_such_target?")
    with pytest.raises(DatabaseError) as raised:
        run_etl(DAY, settings.model_copy(update={"target_database_url": gone}))
    assert raised.value.database == "target" and raised.value.connection
    assert 'database "no_such_target" does not exist' in str(raised.value)
    env = {**os.environ, **stack_variables(settings), "TARGET_DATABASE_URL": gone, "ETL_RUNS_DIR": str(tmp_path)}
    done = subprocess.run([ETL, "run", DAY.isoformat()], env=env, capture_output=True, text=True, timeout=180)
    assert done.stderr.startswith("error: The ETL notebook failed with DatabaseError: The target database failed:")
    [failed] = tmp_path.glob(f"{DAY}.*.ipynb")  # a failed run keeps its own report (runs/DATE.KEY)
    report = json.loads(failed.read_text())
    errors = [
        output for cell in report["cells"] for output in cell.get("outputs", []) if output["output_type"] == "error"
    ]
    assert [error["ename"] for error in errors] == ["DatabaseError"]
