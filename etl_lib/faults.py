"""Fault injection with real parts: tiny HTTP servers that misbehave, and the ETL run against them.

Used by ``tests/test_reliability.py`` (which asserts the outcomes) and ``benchmarks/faults.py``
(which prints them as a table), so both exercise exactly the same scenarios.
"""

from __future__ import annotations

import datetime as dt
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
from sqlalchemy import Engine, text

from .dates import day_bounds
from .db import engine_for
from .errors import EtlError
from .load import day_lock_key
from .pipeline import run_etl
from .settings import Settings
from .testing import free_port

# (path with query, request number from 1, request headers) -> (status, body, content type)
Responder = Callable[[str, int, dict], tuple[int, bytes, str]]
JSON = "application/json"


class _Handler(BaseHTTPRequestHandler):
    server: _FaultHTTPServer

    def do_GET(self) -> None:
        status, body, content_type = self.server.answer(self.path, dict(self.headers))
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
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


def proxy(upstream: str, rewrite: Callable[[bytes], bytes] | None = None, accept: str | None = None) -> Responder:
    """Forward to the real API (the caller's Authorization and Accept headers, or ``accept``);
    optionally rewrite the body of a 200 answer."""

    def respond(path: str, number: int, headers: dict) -> tuple[int, bytes, str]:
        forwarded = {k: v for k, v in headers.items() if k.lower() in ("authorization", "accept")}
        if accept:
            forwarded = {k: v for k, v in forwarded.items() if k.lower() != "accept"} | {"Accept": accept}
        response = httpx.get(f"{upstream}{path}", headers=forwarded, timeout=30)
        content_type = response.headers.get("content-type", JSON)
        if rewrite is None or response.status_code != 200:
            return response.status_code, response.content, content_type
        return 200, rewrite(response.content), content_type

    return respond


def json_rewrite(upstream: str, change: Callable[[dict], dict]) -> Responder:
    """The real API's JSON answer, changed by ``change``."""
    return proxy(upstream, lambda body: orjson.dumps(change(orjson.loads(body))), accept=JSON)


def failing_first(count: int, then: Responder, status: int = 503) -> Responder:
    """Answer ``status`` to the first ``count`` requests, then behave like ``then``."""

    def respond(path: str, number: int, headers: dict) -> tuple[int, bytes, str]:
        if number <= count:
            return status, b'{"detail": "injected failure"}', JSON
        return then(path, number, headers)

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
    target: str  # "unchanged", "correct", or what is wrong

    def row(self) -> dict:
        return {
            "scenario": self.scenario,
            "outcome": "succeeded" if self.succeeded else f"failed: {self.error}",
            "API requests": "-" if self.api_requests is None else str(self.api_requests),
            "seconds": f"{self.seconds:.2f}",
            "target": self.target,
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
        "malformed JSON": lambda: fixed(200, b'{"data": [{"timestamp": '),
        "a row outside the day": lambda: json_rewrite(api_url, _shift_last_row),
        "a duplicated timestamp": lambda: json_rewrite(api_url, _duplicate_a_row),
        "a value that is text": lambda: json_rewrite(api_url, _text_value),
        "a column missing": lambda: json_rewrite(api_url, _drop_a_column),
        "Arrow stream cut short": lambda: proxy(api_url, lambda body: body[: len(body) // 2]),
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
    return Outcome(name, ok, type(error).__name__ if error else None, str(error) if error else None, requests,
                   seconds, target)  # fmt: skip


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
        conn.execute(text('DELETE FROM data WHERE signal_id = :i AND "timestamp" = :t'), {"i": signal_id, "t": timestamp})
    before = day_rows(engine, run_date)
    blocker = engine.raw_connection()
    pool = ThreadPoolExecutor(1)
    try:
        cursor = blocker.cursor()
        cursor.execute('INSERT INTO data (signal_id, "timestamp", value) VALUES (%s, %s, %s)', (signal_id, timestamp, value))
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
    return Outcome("target connection killed mid-load", ok, type(error).__name__ if error else None,
                   str(error) if error else None, None, seconds, target)  # fmt: skip


def _cli_env(settings: Settings) -> dict[str, str]:
    """Environment for an ``etl`` process that uses the same target and API as ``settings``."""
    return {**os.environ, "ETL_STACK_DIR": str(settings.stack_dir), "ETL_RUNS_DIR": str(settings.runs_dir),
            "TARGET_DATABASE_URL": settings.target_url, "ETL_API_URL": settings.api_base_url}  # fmt: skip


def _advisory_waiters(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'")
        ).scalar_one()


def run_concurrent(settings: Settings, run_date: dt.date, threads: int = 4, processes: int = 4) -> Outcome:
    """``threads`` in-process runs and ``processes`` ``etl run --no-report`` processes of one date at once.

    To make them truly overlap, the test holds the date's advisory lock until every run waits on
    it, then lets go. The day must end with exactly one copy of its rows and no run may fail.
    """
    engine = engine_for(settings.target_url)
    run_etl(run_date, settings)
    expected = day_rows(engine, run_date)
    runs = threads + processes
    holder = engine.raw_connection()
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", (day_lock_key(run_date),))
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
        holder.cursor().execute("SELECT pg_advisory_unlock(%s)", (day_lock_key(run_date),))
        holder.commit()
        holder.close()
    failures = [str(error) for ok, error in (f.result() for f in futures) if not ok]
    pool.shutdown()
    for child in children:
        out, err = child.communicate(timeout=120)
        if child.returncode != 0:
            failures.append(err.strip() or f"exit code {child.returncode}")
    seconds = time.perf_counter() - started
    after = day_rows(engine, run_date)
    target = "correct" if after == expected else f"WRONG: {len(after)} rows, expected {len(expected)}"
    if contended < runs and not failures:
        failures.append(f"only {contended} of {runs} runs waited on the lock at once")
    return Outcome(f"{runs} concurrent runs of one date ({threads} threads, {processes} CLI processes)",
                   not failures, f"{len(failures)}/{runs} failed" if failures else None,
                   "\n".join(failures) or None, None, seconds, target)  # fmt: skip


@contextmanager
def serve_api(settings: Settings) -> Iterator[str]:
    """The real API app (``api.main.create_app``) with other settings, e.g. a token or a broken
    database URL, served by uvicorn in a thread on a free port; yields its base URL."""
    import uvicorn

    from api.main import create_app

    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=free_port(), log_level="critical")
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
