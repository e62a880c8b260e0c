"""Faults caused with real processes and a real file system: the API stopped and restarted while a
run retries, a zombie or an unrelated process named by the API's pid file, a report folder that
refuses files, and ``etl run`` killed with SIGKILL mid-run.

Used by the tests (which assert the outcomes) and ``benchmarks/faults.py`` (which prints them), like
``fault_servers``. Every scenario is bounded in time and stops every process it started.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from sqlalchemy import Engine, text

from etl_lib.config.settings import Settings, environment
from etl_lib.core.dates import day_bounds
from etl_lib.core.errors import EtlError
from etl_lib.notebook.runner import previous_report, run_notebook
from etl_lib.ops.stack import api_command, api_healthy, stack_status, start_api, stop_api
from etl_lib.pipeline.run import run_etl
from etl_lib.reports.runs_summary import summarize_runs
from etl_lib.storage.engines import engine_for

from .fault_servers import Outcome, day_rows, stack_variables
from .stack import free_port

ETL = str(Path(sys.executable).with_name("etl"))


def etl(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The ``etl`` command as a user runs it, with ``env`` over this process's environment."""
    return subprocess.run(
        [ETL, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


# --- the report's folder refusing files; a run killed mid-way ------------------------------------


def _etl_runs(engine: Engine, run_date: dt.date) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM etl_run WHERE run_date = :d"), {"d": run_date}).scalar_one()


def clear_day(engine: Engine, run_date: dt.date) -> None:
    """Delete the UTC day's rows of ``data`` (the source's or the target's)."""
    start, end = day_bounds(run_date)
    with engine.begin() as conn:
        conn.execute(text('DELETE FROM data WHERE "timestamp" >= :s AND "timestamp" < :e'), {"s": start, "e": end})


@contextmanager
def refusing_inserts(engine: Engine, table: str, message: str, when: str = "TRUE") -> Iterator[None]:
    """The database refuses new rows of ``table`` for which the SQL condition ``when`` holds on ``NEW``
    (a trigger raising ``message``): a real write failure, removed afterwards."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION refuse_rows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF {when} THEN RAISE EXCEPTION '{message}'; END IF; RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(f"CREATE TRIGGER refuse_rows BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse_rows()")
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TRIGGER refuse_rows ON {table}"))
            conn.execute(text("DROP FUNCTION refuse_rows()"))


def run_unwritable_reports(settings: Settings, run_date: dt.date, runs_dir: Path, why: str) -> Outcome:
    """The report's folder refuses files (``why``). With the day cleared first: the run must fail
    before any work, leaving the day empty and no new etl_run row. The day is restored afterwards."""
    engine = engine_for(settings.target_url)
    clear_day(engine, run_date)
    runs = _etl_runs(engine, run_date)
    started = time.perf_counter()
    in_folder = settings.model_copy(update={"runs_dir": runs_dir})
    try:
        with environment(stack_variables(in_folder)):  # should a kernel start, it uses this stack
            run_notebook(run_date, in_folder)
        error = None
    except EtlError as exc:
        error = exc
    seconds = time.perf_counter() - started
    written, recorded = len(day_rows(engine, run_date)), _etl_runs(engine, run_date) - runs
    run_etl(run_date, settings)  # leave the day complete again
    target = "unchanged" if not written and not recorded else f"CHANGED: {written} rows, {recorded} etl_run row(s)"
    return Outcome(
        f"report folder refuses files ({why})",
        error is None,
        type(error).__name__ if error else None,
        str(error) if error else None,
        None,
        seconds,
        target,
        report="none",
    )


def kernel_of(process: subprocess.Popen, timeout: float = 60.0) -> psutil.Process:
    """The Jupyter kernel ``process`` (``etl run``) started, once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(process.pid).children(recursive=True):
            try:
                command = " ".join(child.cmdline())
                if "etl_lib.notebook.kernel" in command or "ipykernel_launcher" in command:
                    return child
            except psutil.Error:
                continue
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError("etl run started no kernel")


def run_killed(settings: Settings, run_date: dt.date, runs_dir: Path, after: float = 1.0) -> Outcome:
    """``etl run`` killed with SIGKILL (with its kernel) ``after`` seconds into its kernel's life. The
    previous run's report must stay ``runs/<date>.ipynb`` as it was, standing for the day in ``etl
    report``, and the killed run must leave no report of its own."""
    engine = engine_for(settings.target_url)
    in_folder = settings.model_copy(update={"runs_dir": runs_dir})
    variables = stack_variables(in_folder)
    with environment(variables):
        earlier_run = run_notebook(run_date, in_folder)
    report = earlier_run.report
    earlier = report.read_bytes()
    before = day_rows(engine, run_date)
    started = time.perf_counter()
    command = subprocess.Popen(
        [ETL, "run", run_date.isoformat()],
        env={**os.environ, **variables},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    victims: list = [command]
    try:
        victims.append(kernel_of(command))
        time.sleep(after)
    finally:
        for process in victims:
            process.kill()
        command.wait(30)
    seconds = time.perf_counter() - started
    standing = summarize_runs(runs_dir, in_folder).loc[run_date.isoformat()]
    left = sorted(p.name for p in runs_dir.glob(f"{run_date}.*.ipynb") if p != previous_report(report))
    problems = [
        *([] if report.exists() and report.read_bytes() == earlier else [f"{report.name} is not the previous report"]),
        *(
            []
            if standing["report"] == report.name and standing["status"] == "succeeded"
            else [f"etl report does not show the previous run for {run_date}: {dict(standing)}"]
        ),
        *([f"the killed run left {', '.join(left)}"] if left else []),
    ]
    after_rows = day_rows(engine, run_date)
    target = "unchanged" if after_rows == before else f"CHANGED: {len(before)} -> {len(after_rows)} rows"
    state = "; ".join(problems) or f"{report.name} still the previous run's; the killed run left no report"
    return Outcome("etl run killed (SIGKILL) mid-run", False, "killed", None, None, seconds, target, report=state)


# --- an API process of our own, on the test stack's databases -------------------------------------


def own_api_settings(settings: Settings, stack_dir: Path) -> Settings:
    """Settings for a second API process (own pid file and port) reading the same databases."""
    return settings.model_copy(
        update={
            "stack_dir": stack_dir,
            "api_port": free_port(),
            "source_database_url": settings.source_url,
            "target_database_url": settings.target_url,
            "api_database_url": settings.api_source_url,
        }
    )


@contextmanager
def own_api_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="wind-etl-api-") as folder:
        yield Path(folder)


# --- the API's pid file naming a zombie or an unrelated process ----------------------------------


def _wait_for_zombie(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {pid} did not become a zombie")
        time.sleep(0.01)


def run_zombie_api(settings: Settings) -> Outcome:
    """The API is killed and not reaped yet (a zombie, as after a crash): ``start_api`` (what
    ``etl stack up`` does) must see it as dead and end with a new API that answers."""
    with own_api_folder() as folder:
        own = own_api_settings(settings, folder)
        started = time.perf_counter()
        old = start_api(own)  # our child: nobody reaps it while this process does not
        try:
            os.kill(old, signal.SIGKILL)
            _wait_for_zombie(old)
            new = start_api(own)
            healthy, status = api_healthy(own), stack_status(own)
        finally:
            stop_api(own)
            _reap(old)
        seconds = time.perf_counter() - started
    problems = [
        *([f"start_api returned the zombie's pid {old}"] if new == old else []),
        *([] if healthy else ["no API answers /health"]),
        *([] if status.api_running and status.api_pid == new else [f"status says {status}"]),
    ]
    return Outcome(
        "API killed, its pid still a zombie: stack up",
        not problems,
        "; ".join(problems) or None,
        None,
        None,
        seconds,
        "-",
        report="-",
    )


def _name_in_pid_file(own: Settings, pid: int, recorded_as: str) -> None:
    """``recorded_as`` "pid": the pid alone (the older format); "identity": the API's command and a
    start time, as recorded for an API whose pid now belongs to another process."""
    if recorded_as == "pid":
        text = str(pid)
    else:
        started = psutil.Process(pid).create_time() - 60
        text = json.dumps({"pid": pid, "started": started, "command": api_command(own)})
    (own.stack_dir / "api.pid").write_text(text)


def run_foreign_pid(settings: Settings, *, recorded_as: str) -> Outcome:
    """The pid file names a live unrelated process (``sleep``, leading its own process group), as
    after a reboot or a reused pid. It must not count as the API (status), must never be signalled
    (down), and ``start_api`` (up) must start a real API."""
    with own_api_folder() as folder:
        own = own_api_settings(settings, folder)
        stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
        started = time.perf_counter()
        try:
            _name_in_pid_file(own, stranger.pid, recorded_as)
            status = stack_status(own)
            _name_in_pid_file(own, stranger.pid, recorded_as)
            stopped = stop_api(own)
            time.sleep(0.2)
            survived = stranger.poll() is None
            _name_in_pid_file(own, stranger.pid, recorded_as)
            new = start_api(own)
            healthy = api_healthy(own)
        finally:
            stop_api(own)
            stranger.kill()
            stranger.wait()
        seconds = time.perf_counter() - started
    problems = [
        *([] if status.api_pid is None and not status.api_running else [f"status took it for the API: {status}"]),
        *([] if not stopped and survived else ["stack down signalled the unrelated process"]),
        *([] if new != stranger.pid and healthy else ["no API was started"]),
    ]
    return Outcome(
        f"API pid file ({recorded_as}) names an unrelated process: status, down, up",
        not problems,
        "; ".join(problems) or None,
        None,
        None,
        seconds,
        "-",
        report="-",
    )


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


# --- the API stopped and restarted while a run retries ------------------------------------------


class _RetryLog(logging.Handler):
    """Counts the retries ``pipeline.extract`` logs (at INFO)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.retries += 1


def run_api_restart(settings: Settings, run_date: dt.date, down_seconds: float = 20.0) -> Outcome:
    """Stop a real API process, start a run with the default retry settings, start the API again
    ``down_seconds`` later: the run must wait for it and succeed, and the day come out the same."""
    name = f"API stopped, restarted {down_seconds:.0f} s later (default retries)"
    with own_api_folder() as folder:
        own = own_api_settings(settings, folder)
        engine = engine_for(settings.target_url)
        retries = _RetryLog()
        logger = logging.getLogger("etl_lib.pipeline.extract")
        level = logger.level
        try:
            start_api(own)
            run_etl(run_date, own)
            before = day_rows(engine, run_date)
            stop_api(own)
            logger.setLevel(logging.INFO)
            logger.addHandler(retries)
            result: dict = {}

            def run() -> None:
                try:
                    run_etl(run_date, own)
                except EtlError as exc:
                    result["error"] = exc

            started = time.perf_counter()
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            time.sleep(down_seconds)
            start_api(own)
            worker.join(timeout=own.http_retry_deadline + 30)
            seconds = time.perf_counter() - started
        finally:
            logger.removeHandler(retries)
            logger.setLevel(level)
            stop_api(own)
    if worker.is_alive():
        return Outcome(name, False, "still running", "the run did not end within its deadline", None, seconds, "-")
    error = result.get("error")
    after = day_rows(engine, run_date)
    target = (
        ("correct" if error is None else "unchanged")
        if after == before
        else f"CHANGED: {len(before)} -> {len(after)} rows"
    )
    return Outcome(
        name,
        error is None,
        type(error).__name__ if error else None,
        str(error) if error else None,
        retries.retries + 1,
        seconds,
        target,
    )
