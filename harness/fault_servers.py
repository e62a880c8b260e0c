"""Fault injection with real parts: tiny HTTP servers that misbehave, and the ETL run against them.

Used by ``tests/integration/test_reliability.py`` (which asserts the outcomes) and ``benchmarks/faults.py``
(which prints them as a table), so both exercise exactly the same scenarios.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson
import pyarrow as pa
from sqlalchemy import Engine, text

from etl_lib.config.settings import Settings
from etl_lib.core.contract import JSON_MEDIA_TYPE, SOURCE_VERSION_HEADER
from etl_lib.core.dates import day_bounds
from etl_lib.core.errors import EtlError
from etl_lib.pipeline.load import day_lock_key
from etl_lib.pipeline.run import run_etl
from etl_lib.storage.engines import engine_for

from .stack import free_port

# (path with query, request number from 1, request headers) -> (status, body, content type), or with a
# fourth member: more headers to send (a proxy passes on the real API's X-Source-Version so)
Responder = Callable[[str, int, dict], tuple]
JSON = JSON_MEDIA_TYPE


class _Handler(BaseHTTPRequestHandler):
    server: _FaultHTTPServer

    def do_GET(self) -> None:
        status, body, content_type, *more = self.server.answer(self.path, dict(self.headers))
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (more[0] if more else {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): expected
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


class _FaultHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, responder: Responder) -> None:
        super().__init__(("127.0.0.1", free_port()), _Handler)
        self.responder = responder
        self.requests = 0
        self._lock = threading.Lock()

    def answer(self, path: str, headers: dict) -> tuple[int, bytes, str]:
        with self._lock:
            self.requests += 1
            number = self.requests
        return self.responder(path, number, headers)


@dataclass
class FaultServer:
    url: str
    server: _FaultHTTPServer

    @property
    def requests(self) -> int:
        return self.server.requests


@contextmanager
def fault_server(responder: Responder) -> Iterator[FaultServer]:
    """A real HTTP server on a free loopback port answering every GET with ``responder``."""
    server = _FaultHTTPServer(responder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield FaultServer(f"http://127.0.0.1:{server.server_address[1]}", server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- responders -------------------------------------------------------------------------------


PASSED_ON = (SOURCE_VERSION_HEADER,)  # the real API's headers a proxy sends on


def proxy(upstream: str, rewrite: Callable[[bytes], bytes] | None = None, accept: str | None = None) -> Responder:
    """Forward to the real API (the caller's Authorization and Accept headers, or ``accept``);
    optionally rewrite the body of a 200 answer."""

    def respond(path: str, number: int, headers: dict) -> tuple[int, bytes, str]:
        forwarded = {k: v for k, v in headers.items() if k.lower() in ("authorization", "accept")}
        if accept:
            forwarded = {k: v for k, v in forwarded.items() if k.lower() != "accept"} | {"Accept": accept}
        response = httpx.get(f"{upstream}{path}", headers=forwarded, timeout=30)
        content_type = response.headers.get("content-type", JSON)
        passed = {name: response.headers[name] for name in PASSED_ON if name in response.headers}
        if rewrite is None or response.status_code != 200:
            return response.status_code, response.content, content_type, passed
        return 200, rewrite(response.content), content_type, passed

    return respond


def json_rewrite(upstream: str, change: Callable[[dict], dict], restate_count: bool = True) -> Responder:
    """The real API's JSON answer of /data, changed by ``change`` (its ``count`` then restated to match,
    unless ``restate_count`` is False); other paths answered as the API does."""

    def rewrite(body: bytes) -> bytes:
        payload = change(orjson.loads(body))
        if restate_count:
            payload["count"] = len(payload["data"])
        return orjson.dumps(payload)

    return on_data(upstream, proxy(upstream, rewrite, accept=JSON))


def on_data(upstream: str, faulty: Responder) -> Responder:
    """``faulty`` for /data; every other path (the farm's /turbines) as the real API answers it."""
    real = proxy(upstream)

    def respond(path: str, number: int, headers: dict) -> tuple[int, bytes, str]:
        return (faulty if path.startswith("/data") else real)(path, number, headers)

    return respond


def failing_first(count: int, then: Responder, status: int = 503) -> Responder:
    """Answer ``status`` to the first ``count`` requests, then behave like ``then``."""

    def respond(path: str, number: int, headers: dict) -> tuple[int, bytes, str]:
        if number <= count:
            return status, b'{"detail": "injected failure"}', JSON
        return then(path, number, headers)

    return respond


def once_then(faulty: Responder, then: Responder) -> Responder:
    """``faulty`` for the first request it sees, ``then`` for every later one."""
    calls = itertools.count(1)

    def respond(path: str, number: int, headers: dict) -> tuple[int, bytes, str]:
        return (faulty if next(calls) == 1 else then)(path, number, headers)

    return respond


def fixed(status: int, body: bytes) -> Responder:
    return lambda path, number, headers: (status, body, JSON)


def hanging(server_seconds: float = 5.0) -> Responder:
    """Sleep before answering, far past the client's timeout (``HANG_TIMEOUT``)."""

    def respond(path: str, number: int, headers: dict) -> tuple[int, bytes, str]:
        time.sleep(server_seconds)
        return 200, b"{}", JSON

    return respond


def _shift_last_row(payload: dict) -> dict:
    last = payload["data"][-1]
    moved = dt.datetime.fromisoformat(last["timestamp"]) + dt.timedelta(hours=1)
    last["timestamp"] = moved.isoformat()
    return payload


def _duplicate_a_row(payload: dict) -> dict:
    payload["data"].append(dict(payload["data"][0]))
    return payload


def _text_value(payload: dict) -> dict:
    payload["data"][5]["power"] = "12.5 kW"
    return payload


def _drop_a_column(payload: dict) -> dict:
    for row in payload["data"]:
        row.pop("power", None)
    return payload


# --- scenarios --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    scenario: str
    succeeded: bool
    error: str | None
    message: str | None
    api_requests: int | None
    seconds: float
    target: str  # "unchanged", "correct", "-" (not involved), or what is wrong
    report: str = "-"  # the report in runs/, for the scenarios that write one

    def row(self) -> dict:
        return {
            "scenario": self.scenario,
            "outcome": "succeeded" if self.succeeded else f"failed: {self.error}",
            "API requests": "-" if self.api_requests is None else str(self.api_requests),
            "seconds": f"{self.seconds:.2f}",
            "target": self.target,
            "report": self.report,
        }


# Fast retries so the faults show quickly: 3 attempts, waits of ~0.05 and ~0.1 s. The timeout leaves
# room for the proxy on a busy machine; the hanging server gets a short one.
FAST_RETRY = {"http_timeout": 5.0, "http_retries": 2, "http_backoff": 0.05, "http_retry_deadline": 30.0}
HANG_TIMEOUT = 0.5
HANGS = "API hangs past the timeout"


def day_rows(engine: Engine, run_date: dt.date) -> list[tuple]:
    """The target's rows of the day, sorted: the thing a fault must leave unchanged."""
    start, end = day_bounds(run_date)
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    'SELECT signal_id, "timestamp", value FROM data WHERE "timestamp" >= :s AND "timestamp" < :e '
                    "ORDER BY 1, 2"
                ),
                {"s": start, "e": end},
            )
        ]


def _run(settings: Settings, run_date: dt.date) -> tuple[bool, EtlError | None]:
    try:
        run_etl(run_date, settings)
    except EtlError as exc:
        return False, exc
    return True, None


def api_scenarios(api_url: str) -> dict[str, Callable[[], Responder] | None]:
    """Each API fault by name; ``None`` means no server at all (the API is not running)."""
    return {
        "API not running": None,
        "503 twice, then the real API": lambda: failing_first(2, proxy(api_url)),
        "503 on every request": lambda: fixed(503, b'{"detail": "injected failure"}'),
        HANGS: lambda: hanging(),
        "404 (not worth retrying)": lambda: fixed(404, b'{"detail": "Not Found"}'),
        "malformed JSON": lambda: on_data(api_url, fixed(200, b'{"data": [{"timestamp": 2024-10-08}], "count": 1}')),
        "a row outside the day": lambda: json_rewrite(api_url, _shift_last_row),
        "a duplicated timestamp": lambda: json_rewrite(api_url, _duplicate_a_row),
        "a value that is text": lambda: json_rewrite(api_url, _text_value),
        "a column missing": lambda: json_rewrite(api_url, _drop_a_column),
        "Arrow stream cut short": lambda: on_data(api_url, proxy(api_url, lambda body: body[: len(body) // 2])),
    } | incomplete_answer_scenarios(api_url)


def _arrow_cut_after_a_batch(body: bytes) -> bytes:
    """The real Arrow answer re-sent as a stream cut cleanly after a whole batch of half its rows: no
    trailer, no end-of-stream marker. pyarrow reads that without complaint."""
    table = pa.ipc.open_stream(body).read_all()
    sink = pa.BufferOutputStream()
    pa.ipc.new_stream(sink, table.schema).write_table(table.slice(0, table.num_rows // 2))  # never closed
    return sink.getvalue().to_pybytes()


def _drop_last_rows(payload: dict) -> dict:
    payload["data"] = payload["data"][:-100]
    return payload


def incomplete_answer_scenarios(api_url: str) -> dict[str, Callable[[], Responder]]:
    """Answers that end cleanly (HTTP-wise) but are not whole, as a proxy or a broken API might send
    them: each must be refused and asked for again, never used."""
    cut_arrow = proxy(api_url, _arrow_cut_after_a_batch)
    return {
        "Arrow stream cut after a whole batch": lambda: on_data(api_url, cut_arrow),
        "JSON cut short": lambda: on_data(api_url, proxy(api_url, lambda body: body[: len(body) // 2], accept=JSON)),
        "JSON without rows its count states": lambda: json_rewrite(api_url, _drop_last_rows, restate_count=False),
        "an answer cut once, then whole": lambda: on_data(api_url, once_then(cut_arrow, proxy(api_url))),
    }


def run_api_fault(name: str, settings: Settings, run_date: dt.date) -> Outcome:
    """Load the day cleanly, then run it again through the fault; report what happened to the target."""
    engine = engine_for(settings.target_url)
    run_etl(run_date, settings)
    before = day_rows(engine, run_date)
    make = api_scenarios(settings.api_base_url)[name]
    started = time.perf_counter()
    if make is None:
        faulty = settings.model_copy(update={**FAST_RETRY, "api_url": f"http://127.0.0.1:{free_port()}"})
        ok, error = _run(faulty, run_date)
        requests = None
    else:
        with fault_server(make()) as server:
            update = {**FAST_RETRY, "api_url": server.url} | ({"http_timeout": HANG_TIMEOUT} if name == HANGS else {})
            ok, error = _run(settings.model_copy(update=update), run_date)
            requests = server.requests
    seconds = time.perf_counter() - started
    after = day_rows(engine, run_date)
    target = ("correct" if ok else "unchanged") if after == before else f"CHANGED: {len(before)} -> {len(after)} rows"
    return Outcome(
        name, ok, type(error).__name__ if error else None, str(error) if error else None, requests, seconds, target
    )


def _waiting_copy_pid(engine: Engine, exclude: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            pid = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> :me "
                    "AND pid <> :exclude AND wait_event_type = 'Lock' AND query ILIKE 'COPY%'"
                ),
                {"me": conn.connection.driver_connection.info.backend_pid, "exclude": exclude},
            ).scalar()
            if pid is not None:
                return pid
            conn.rollback()  # pg_stat_activity is a snapshot per transaction: take a new one
            time.sleep(0.02)
    raise RuntimeError("the ETL's COPY never started waiting; cannot inject the fault")


def run_terminated_load(settings: Settings, run_date: dt.date) -> Outcome:
    """Kill the load's connection (pg_terminate_backend) after its DELETE, while its COPY runs.

    Deterministic: the day's first row is removed beforehand and re-inserted, uncommitted, by a
    second connection, so the ETL's COPY waits on that key's unique check inside its transaction
    (advisory lock held, the day's rows already deleted). That backend is then terminated.
    """
    engine = engine_for(settings.target_url)
    run_etl(run_date, settings)
    signal_id, timestamp, value = day_rows(engine, run_date)[0]
    with engine.begin() as conn:
        conn.execute(
            text('DELETE FROM data WHERE signal_id = :i AND "timestamp" = :t'), {"i": signal_id, "t": timestamp}
        )
    before = day_rows(engine, run_date)
    blocker = engine.raw_connection()
    pool = ThreadPoolExecutor(1)
    try:
        cursor = blocker.cursor()
        cursor.execute(
            'INSERT INTO data (signal_id, "timestamp", value) VALUES (%s, %s, %s)', (signal_id, timestamp, value)
        )
        started = time.perf_counter()
        running = pool.submit(_run, settings, run_date)
        victim = _waiting_copy_pid(engine, exclude=blocker.driver_connection.info.backend_pid)
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
        ok, error = running.result(timeout=30)
        seconds = time.perf_counter() - started
    finally:
        blocker.rollback()  # first: a run still waiting on the blocker can then finish
        blocker.close()
        pool.shutdown()
    after = day_rows(engine, run_date)
    target = "unchanged" if after == before else f"CHANGED: {len(before)} -> {len(after)} rows"
    run_etl(run_date, settings)  # leave the day complete again
    return Outcome(
        "target connection killed mid-load",
        ok,
        type(error).__name__ if error else None,
        str(error) if error else None,
        None,
        seconds,
        target,
    )


def stack_variables(settings: Settings) -> dict[str, str]:
    """The variables that point a child process (``etl``, a notebook's kernel) at the same target,
    API and runs folder as ``settings``."""
    return {
        "ETL_STACK_DIR": str(settings.stack_dir),
        "ETL_RUNS_DIR": str(settings.runs_dir),
        "TARGET_DATABASE_URL": settings.target_url,
        "ETL_API_URL": settings.api_base_url,
    }


def _cli_env(settings: Settings) -> dict[str, str]:
    """Environment for an ``etl`` process that uses the same target and API as ``settings``."""
    return {**os.environ, **stack_variables(settings)}


def _advisory_waiters(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'")
        ).scalar_one()


def run_concurrent(settings: Settings, run_date: dt.date, threads: int = 4, processes: int = 4) -> Outcome:
    """``threads`` in-process runs and ``processes`` ``etl run --no-report`` processes of one date at once.

    To make them truly overlap, the test holds the farm-day's advisory lock until every run waits on
    it, then lets go. The day must end with exactly one copy of its rows and no run may fail.
    """
    engine = engine_for(settings.target_url)
    farm = run_etl(run_date, settings).scope.farm
    expected = day_rows(engine, run_date)
    runs = threads + processes
    holder = engine.raw_connection()
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", (day_lock_key(run_date, farm),))
    holder.commit()
    started = time.perf_counter()
    command = [os.path.join(os.path.dirname(sys.executable), "etl"), "run", run_date.isoformat(), "--no-report"]
    children = [
        subprocess.Popen(command, env=_cli_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    pool = ThreadPoolExecutor(threads)
    futures = [pool.submit(_run, settings, run_date) for _ in range(threads)]
    try:
        deadline = time.monotonic() + 120
        while _advisory_waiters(engine) < runs:
            if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                break  # a run finished or failed without waiting: reported below
            time.sleep(0.05)
        contended = _advisory_waiters(engine)
    finally:
        holder.cursor().execute("SELECT pg_advisory_unlock(%s)", (day_lock_key(run_date, farm),))
        holder.commit()
        holder.close()
    failures = [str(error) for ok, error in (f.result() for f in futures) if not ok]
    pool.shutdown()
    for child in children:
        _out, err = child.communicate(timeout=120)
        if child.returncode != 0:
            failures.append(err.strip() or f"exit code {child.returncode}")
    seconds = time.perf_counter() - started
    after = day_rows(engine, run_date)
    target = "correct" if after == expected else f"WRONG: {len(after)} rows, expected {len(expected)}"
    if contended < runs and not failures:
        failures.append(f"only {contended} of {runs} runs waited on the lock at once")
    return Outcome(
        f"{runs} concurrent runs of one date ({threads} threads, {processes} CLI processes)",
        not failures,
        f"{len(failures)}/{runs} failed" if failures else None,
        "\n".join(failures) or None,
        None,
        seconds,
        target,
    )


@contextmanager
def serve_api(settings: Settings) -> Iterator[str]:
    """The real API app (``api.main.create_app``) with other settings, e.g. a token or a broken
    database URL, served by uvicorn in a thread on a free port with the API's guarded protocol and
    the limits of ``settings``; yields its base URL."""
    import uvicorn

    from api.main import create_app
    from api.server import guarded_protocol

    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=free_port(), log_level="critical", http=guarded_protocol(settings)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-process API did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


# --- non-finite samples: the same result whatever the format -----------------------------------------

NON_FINITE_DAY = dt.date(2024, 9, 20)
# (minute of the day, turbine, variable, value as PostgreSQL text): NaN, ±Infinity, and ten samples of
# 1e308 in one bucket (their mean overflows).
NON_FINITE_VALUES = [
    (600, "WT01", "power", "NaN"),
    (601, "WT02", "power", "Infinity"),
    (660, "WT03", "wind_speed", "-Infinity"),
    (780, "WT01", "ambient_temperature", "NaN"),
    *((720 + i, "WT04", "power", "1e308") for i in range(10)),
]


@contextmanager
def non_finite_day(settings: Settings, run_date: dt.date = NON_FINITE_DAY, source_day: dt.date = dt.date(2024, 10, 4)):
    """``source_day``'s samples copied to ``run_date``, with ``NON_FINITE_VALUES`` written over some;
    the source, the target and the run record lose the day again afterwards."""
    with day_with_values(settings, run_date, NON_FINITE_VALUES, source_day) as day:
        yield day


@contextmanager
def day_with_values(
    settings: Settings, run_date: dt.date, values: list[tuple[int, str, str, str]], source_day: dt.date
) -> Iterator[dt.date]:
    """``source_day``'s samples copied to ``run_date``, with ``values`` (minute of the day, turbine, variable,
    value as PostgreSQL reads a double: "NaN", "1e308") written over some; the source, the target and
    the run record lose the day again afterwards."""
    source, target = engine_for(settings.source_url), engine_for(settings.target_url)
    start, end = day_bounds(run_date)
    with source.begin() as conn:
        conn.execute(
            text(
                'INSERT INTO data (turbine_id, "timestamp", wind_speed, power, ambient_temperature) '
                'SELECT turbine_id, "timestamp" + :shift, wind_speed, power, ambient_temperature FROM data '
                'WHERE "timestamp" >= :s AND "timestamp" < :e'
            ),
            {
                "shift": start - day_bounds(source_day)[0],
                "s": day_bounds(source_day)[0],
                "e": day_bounds(source_day)[1],
            },
        )
        for minute, turbine, variable, value in values:
            conn.execute(
                text(
                    f'UPDATE data SET "{variable}" = CAST(:v AS double precision) WHERE "timestamp" = :t '
                    "AND turbine_id = (SELECT id FROM turbine WHERE name = :n)"
                ),
                {"v": value, "t": start + dt.timedelta(minutes=minute), "n": turbine},
            )
    try:
        yield run_date
    finally:
        with source.begin() as conn:
            conn.execute(text('DELETE FROM data WHERE "timestamp" >= :s AND "timestamp" < :e'), {"s": start, "e": end})
        with target.begin() as conn:
            conn.execute(text('DELETE FROM data WHERE "timestamp" >= :s AND "timestamp" < :e'), {"s": start, "e": end})
            conn.execute(text("DELETE FROM etl_run WHERE run_date = :d"), {"d": run_date})


def _result(settings: Settings, run_date: dt.date) -> tuple[list[tuple], dict]:
    """The day's target rows and what the run recorded of its input."""
    from etl_lib.storage.run_record import read_runs

    run = read_runs(engine_for(settings.target_url), run_date).iloc[-1]
    return day_rows(engine_for(settings.target_url), run_date), {
        key: run[key] for key in ("status", "rows_read", "rows_written", "quality", "flag_counts")
    }


def run_non_finite_formats(settings: Settings) -> Outcome:
    """A day with NaN, ±Infinity and 1e308 in the source, run by the ETL once through Arrow (what it asks
    for) and once through a proxy that asks the API for JSON: both must leave the same target rows and
    record the same quality and flags."""
    started = time.perf_counter()
    with non_finite_day(settings) as run_date:
        try:
            run_etl(run_date, settings)
            arrow = _result(settings, run_date)
            with fault_server(on_data(settings.api_base_url, proxy(settings.api_base_url, accept=JSON))) as server:
                run_etl(run_date, settings.model_copy(update={"api_url": server.url}))
                requests = server.requests
            json = _result(settings, run_date)
        except EtlError as exc:
            return Outcome(
                "NaN, ±Infinity, 1e308: Arrow vs JSON",
                False,
                type(exc).__name__,
                str(exc),
                None,
                time.perf_counter() - started,
                "unchanged",
            )
    differences = [key for key in arrow[1] if arrow[1][key] != json[1][key]] + (
        ["target rows"] if arrow[0] != json[0] else []
    )
    flags = {
        turbine: {variable: n for variable, n in checks["non_finite"].items() if n}
        for turbine, checks in arrow[1]["flag_counts"].items()
        if any(checks["non_finite"].values())
    }
    return Outcome(
        "NaN, ±Infinity, 1e308: Arrow vs JSON",
        not differences,
        f"formats differ in {', '.join(differences)}" if differences else None,
        f"Arrow: {arrow[1]}\nJSON: {json[1]}" if differences else None,
        requests,
        time.perf_counter() - started,
        f"correct: the same from both, non_finite flags {flags}"
        if not differences
        else f"DIFFERENT: {', '.join(differences)}",
    )
