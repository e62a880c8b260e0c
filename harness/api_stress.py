"""The API under stress, with real parts: its database session killed while an answer streams,
clients that do not read, many clients at once, unfinished headers.

Each scenario is bounded in count and time (the machine has two shared cores) and returns what
it saw as a ``Stress`` (statuses, /health's worst latency, the API's memory); ``tests/integration/test_api_stress.py``
asserts on them and ``benchmarks/faults.py`` prints them.
"""

from __future__ import annotations

import datetime as dt
import math
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
import psutil
from sqlalchemy import Engine, text

from etl_lib.config.settings import API_READER_ROLE, Settings
from etl_lib.core.contract import DEFAULT_PERIOD_DAYS, DEFAULT_PERIOD_START, SOURCE_VARIABLES
from etl_lib.core.errors import EtlError
from etl_lib.core.scope import RunScope
from etl_lib.ops.stack import running_api
from etl_lib.pipeline.extract import RetryPolicy, fetch_day, fetch_farm, make_client, whole_arrow
from etl_lib.storage.engines import engine_for

from .fault_servers import FAST_RETRY, Outcome

UTC = dt.UTC
VARIABLES = ",".join(SOURCE_VARIABLES)
SEEDED = (
    dt.datetime.combine(DEFAULT_PERIOD_START, dt.time(), UTC),
    dt.datetime.combine(DEFAULT_PERIOD_START, dt.time(), UTC) + dt.timedelta(days=DEFAULT_PERIOD_DAYS),
)
A_YEAR = {"start": "2024-01-01T00:00:00Z", "end": "2024-12-31T00:00:00Z"}  # the seeded ten days and nothing else


@dataclass(frozen=True)
class Stress:
    scenario: str
    answers: dict[str, int]  # what the clients got: "200", "503 + Retry-After", "incomplete read", ...
    health_worst_s: float | None  # /health's slowest answer while it lasted
    seconds: float
    memory_mib: tuple[float, float, float] | None = None  # the API process's RSS (MiB): before, peak, after
    facts: dict = field(default_factory=dict)

    def row(self) -> dict:
        memory = "-" if self.memory_mib is None else "{:.0f} / {:.0f} / {:.0f}".format(*self.memory_mib)
        return {
            "scenario": self.scenario,
            "answers": ", ".join(f"{n} × {what}" for what, n in sorted(self.answers.items())),
            "/health worst": "-" if self.health_worst_s is None else f"{self.health_worst_s:.3f} s",
            "seconds": f"{self.seconds:.1f}",
            "API RSS MiB (before/peak/after)": memory,
        }


def api_process(settings: Settings) -> psutil.Process:
    """The stack's API process (``etl stack``'s own identity check)."""
    process = running_api(settings)
    if process is None:
        raise RuntimeError(f"the stack's API ({settings.api_base_url}) is not running")
    return process


def _rss_mib(process: psutil.Process) -> float:
    return process.memory_info().rss / 2**20


class _Sampler:
    """Peak RSS of a process, sampled every 50 ms in a thread while the ``with`` block runs."""

    def __init__(self, process: psutil.Process) -> None:
        self.process, self.peak, self._stop = process, 0.0, threading.Event()
        self.before = _rss_mib(process)

    def __enter__(self) -> _Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss_mib(self.process))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> tuple[float, float, float]:
        after = _rss_mib(self.process)
        return self.before, max(self.peak, self.before, after), after


_PROBE = """
import sys, time, httpx
url, timeout = sys.argv[1], float(sys.argv[2])
with httpx.Client(timeout=timeout) as client:
    for line in sys.stdin:
        started = time.perf_counter()
        try:
            ok = client.get(url).status_code == 200
        except httpx.HTTPError:
            ok = False
        took = time.perf_counter() - started
        print(took if ok else "inf", flush=True)
"""


class HealthProbe:
    """/health timed from a process of its own (a prober thread beside many client threads would
    time its own process's contention too), every ``every`` seconds while the ``with`` block runs."""

    def __init__(self, base_url: str, every: float = 0.2, timeout: float = 5.0) -> None:
        self.base_url, self.every, self.timeout = base_url, every, timeout
        self.seconds: list[float] = []

    def __enter__(self) -> HealthProbe:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _PROBE, f"{self.base_url}/health", str(self.timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._process.stdin.write("\n")
            self._process.stdin.flush()
            self.seconds.append(float(self._process.stdout.readline()))
            self._stop.wait(self.every)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)
        self._process.stdin.close()
        self._process.wait(10)

    @property
    def worst(self) -> float:
        return max(self.seconds)


def timed_health(base_url: str, timeout: float = 5.0) -> float:
    """Seconds /health took to answer 200; infinity if it did not (so that no bound passes it)."""
    started = time.perf_counter()
    try:
        ok = httpx.get(f"{base_url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        ok = False
    took = time.perf_counter() - started
    return took if ok else math.inf


# --- a long period in the source --------------------------------------------------------------------

LONG_COPIES = 6  # copies of the seeded farm: 60 days, ~345,000 rows, in 2023
LONG_SHIFT = dt.timedelta(days=400)


@contextmanager
def long_period(source_engine: Engine) -> Iterator[tuple[dt.datetime, dt.datetime, int]]:
    """Copies of the seeded days, a year and more before them, back to back: ``(start, end, rows)``
    of a period that takes the API several chunks to read; removed again afterwards."""
    start = SEEDED[0] - LONG_SHIFT - (LONG_COPIES - 1) * (SEEDED[1] - SEEDED[0])
    end = SEEDED[1] - LONG_SHIFT
    columns = "turbine_id, timestamp, " + ", ".join(SOURCE_VARIABLES)
    with source_engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO data ({columns}) SELECT turbine_id, timestamp - :shift - k * :span, "
                f"{', '.join(SOURCE_VARIABLES)} FROM data, generate_series(0, :copies - 1) k "
                "WHERE timestamp >= :s AND timestamp < :e"
            ),
            {"shift": LONG_SHIFT, "span": SEEDED[1] - SEEDED[0], "copies": LONG_COPIES, "s": SEEDED[0], "e": SEEDED[1]},
        )
        rows = conn.execute(
            text("SELECT count(*) FROM data WHERE timestamp >= :s AND timestamp < :e"), {"s": start, "e": end}
        ).scalar_one()
    try:
        yield start, end, rows
    finally:
        with source_engine.begin() as conn:
            conn.execute(text("DELETE FROM data WHERE timestamp >= :s AND timestamp < :e"), {"s": start, "e": end})
        with source_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE data"))  # the table as small as before: the same plans for later tests


def reading_backend(source_engine: Engine, first_chunk_start: dt.datetime, timeout: float) -> int | None:
    """The pid of the API's session while it reads an answer's chunks after the first (so the answer
    has started), polled for up to ``timeout`` seconds; None if none was seen (the reading had ended)."""
    first = f"'{first_chunk_start.isoformat()}'::timestamptz"  # how the first chunk's COPY names its start
    query = text(
        "SELECT pid FROM pg_stat_activity WHERE usename = :role AND xact_start IS NOT NULL AND query LIKE 'COPY%' "
        "AND pid <> pg_backend_pid() AND NOT (state = 'active' AND position(:first in query) > 0) LIMIT 1"
    )
    deadline = time.monotonic() + timeout
    with source_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while time.monotonic() < deadline:
            pid = conn.execute(query, {"role": API_READER_ROLE, "first": first}).scalar()
            if pid is not None:
                return pid
            time.sleep(0.002)
    return None


def _terminate(source_engine: Engine, pid: int) -> None:
    with source_engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def whole(body: bytes, fmt: str) -> bool:
    """Whether a /data answer is whole: it states its row count last and holds that many rows."""
    try:
        if fmt == "arrow":
            whole_arrow(body, ValueError, ValueError)
            return True
        payload = orjson.loads(body)
        return payload["count"] == len(payload["data"])
    except (ValueError, KeyError, TypeError):
        return False


def _ending(status: int, body: bytes, fmt: str, broken: bool) -> str:
    if broken:
        return f"{status}, then incomplete read"
    if status != 200:
        return f"{status} (killed before the answer started)"
    return f"{status}, whole (killed after the reading)" if whole(body, fmt) else f"{status}, PARTIAL with a clean end"


# --- finding 1: the database session ends while an answer streams -------------------------------------


def run_killed_session(settings: Settings, fmt: str, attempts: int = 3) -> Stress:
    """A 60-day answer (``fmt``) whose API session is terminated (``pg_terminate_backend``) while it
    reads the chunks after the first, the client having its first bytes: how each client (httpx, and
    curl when installed) sees the answer end. Tried until one kill lands mid-answer."""
    source = engine_for(settings.source_url)
    started = time.perf_counter()
    answers: Counter = Counter()
    facts: dict = {}
    with long_period(source) as (start, end, rows):
        params = {"start": start.isoformat(), "end": end.isoformat(), "variables": VARIABLES, "format": fmt}
        facts["rows"] = rows
        for _ in range(attempts):
            body, broken = b"", False
            with httpx.Client(base_url=settings.api_base_url, timeout=60) as client:
                with client.stream("GET", "/data", params=params) as response:
                    chunks = response.iter_raw()
                    body += next(chunks)
                    victim = reading_backend(source, start, timeout=3)
                    if victim is not None:
                        _terminate(source, victim)
                    try:
                        for chunk in chunks:
                            body += chunk
                    except httpx.RemoteProtocolError as exc:
                        broken, facts["httpx"] = True, str(exc)
            ending = _ending(response.status_code, body, fmt, broken) if victim else "reading over before the kill"
            answers[f"httpx: {ending}"] += 1
            if broken:
                break
        if shutil.which("curl"):
            for _ in range(attempts):
                ending = _curl_killed(settings, source, params, start, fmt)
                answers[f"curl: {ending}"] += 1
                if "incomplete" in ending:
                    break
    return Stress(
        f"API session killed mid-answer ({fmt}, 60 days)",
        dict(answers),
        None,
        time.perf_counter() - started,
        facts=facts,
    )


def _curl_killed(settings: Settings, source: Engine, params: dict, start: dt.datetime, fmt: str) -> str:
    """The same fault seen by curl: how the answer ended for it (its exit status 18 is an incomplete read)."""
    with tempfile.NamedTemporaryFile() as out:
        process = subprocess.Popen(
            [
                "curl",
                "-sS",
                "-o",
                out.name,
                "-w",
                "%{http_code}",
                "--max-time",
                "60",
                f"{settings.api_base_url}/data?{urlencode(params)}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        victim = reading_backend(source, start, timeout=10)
        if victim is not None:
            _terminate(source, victim)
        status, err = process.communicate(timeout=60)
        if victim is None:
            return "reading over before the kill"
        if process.returncode == 18:
            return f"{status}, then incomplete read (exit 18: {err.strip()})"
        return (
            _ending(int(status or 0), Path(out.name).read_bytes(), fmt, broken=False) + f" (exit {process.returncode})"
        )


def run_etl_killed_session(settings: Settings, attempts: int = 3) -> Outcome:
    """The ETL's own extract (``fetch_day`` over 60 days) while the API's session is killed once after
    the answer started: the broken answer must be refused and asked for again, and the samples whole."""
    source = engine_for(settings.source_url)
    name = "API session killed mid-answer (ETL extract, 60 days)"
    started = time.perf_counter()
    with long_period(source) as (start, end, rows):
        fast = settings.model_copy(update=FAST_RETRY | {"http_timeout": 60.0})
        with make_client(fast) as client:
            turbines = [turbine.name for turbine in fetch_farm(client, retry=RetryPolicy.from_settings(fast))]
        scope = RunScope(start.date(), start, end, turbines=tuple(turbines))
        for _ in range(attempts):
            requests: list[httpx.Request] = []
            with make_client(fast) as client, ThreadPoolExecutor(1) as pool:
                client.event_hooks["request"] = [
                    lambda r, seen=requests: seen.append(r) if r.url.path == "/data" else None
                ]
                future = pool.submit(
                    fetch_day, client, scope, list(SOURCE_VARIABLES), retry=RetryPolicy.from_settings(fast)
                )
                victim = reading_backend(source, start, timeout=10)
                if victim is not None:
                    _terminate(source, victim)
                try:
                    samples, error = future.result(timeout=120), None
                except EtlError as exc:
                    samples, error = None, exc
            if len(requests) > 1:  # the kill broke an answer
                break
    got = 0 if samples is None else len(samples)
    return Outcome(
        name,
        error is None,
        type(error).__name__ if error else None,
        str(error) if error else None,
        len(requests),
        time.perf_counter() - started,
        "correct" if got == rows else f"WRONG: {got} of {rows} samples",
    )


# --- finding 2: clients that ask for a year and do not read -------------------------------------------


def _raw_request(settings: Settings, params: dict, receive_buffer: int = 4096) -> socket.socket:
    """A socket that sent ``GET /data?params`` and reads nothing (a small receive buffer, so the API's
    answer backs up at once)."""
    url = urlsplit(settings.api_base_url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect((url.hostname, url.port))
    sock.sendall(f"GET /data?{urlencode(params)} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
    return sock


def _status_of(sock: socket.socket, timeout: float = 5.0) -> str:
    """What a raw socket received first: "200", "503 + Retry-After", ... or "nothing"."""
    sock.settimeout(timeout)
    head = b""
    try:
        while b"\r\n\r\n" not in head and len(head) < 8192:
            piece = sock.recv(1024)
            if not piece:
                break
            head += piece
    except OSError:
        pass
    if not head:
        return "nothing"
    status = head.split(b" ", 2)[1].decode()
    if status == "503":
        return "503 + Retry-After" if b"\r\nretry-after:" in head.lower() else "503 without Retry-After"
    return status


SETTLE_S = 60.0  # how long the API's sessions may take to go idle while its clients read nothing


def run_non_reading_clients(settings: Settings, clients: int = 20) -> Stress:
    """``clients`` sockets ask for a year of JSON (every variable and turbine; the year holds the 60 days of
    ``long_period``, ~40 MB of JSON) and read nothing; meanwhile /health and a one-day /data are timed,
    and the API's sessions counted once idle (at most ``SETTLE_S``). Then the sockets close and the year is
    read whole."""
    source = engine_for(settings.source_url)
    process = api_process(settings)
    started = time.perf_counter()
    with long_period(source) as (start, _, _), _Sampler(process) as sampler:
        year = {
            "start": dt.datetime(start.year, 1, 1, tzinfo=UTC).isoformat(),
            "end": dt.datetime(start.year + 1, 1, 1, tzinfo=UTC).isoformat(),
        }
        sockets = [_raw_request(settings, year | {"variables": VARIABLES, "format": "json"}) for _ in range(clients)]
        try:
            time.sleep(1.0)  # the answers back up
            health = [timed_health(settings.api_base_url) for _ in range(5)]
            day_started = time.perf_counter()
            try:
                day = httpx.get(
                    f"{settings.api_base_url}/data",
                    timeout=10,
                    params={"start": "2024-10-02T00:00:00Z", "end": "2024-10-03T00:00:00Z", "variables": VARIABLES},
                ).status_code
            except httpx.TimeoutException:
                day = "client time-out (10 s)"
            day_seconds = time.perf_counter() - day_started
            # The answers' reading threads finish at the database's pace, not the clients': while the
            # clients still read nothing, every API session becomes idle (a slower machine takes longer;
            # a session held at a client's pace would stay "active" or "idle in transaction" to the end).
            settle_started, sessions = time.perf_counter(), {}
            while time.perf_counter() - settle_started < SETTLE_S:
                with source.connect() as conn:
                    sessions = dict(
                        conn.execute(
                            text(
                                "SELECT coalesce(state, '?'), count(*) FROM pg_stat_activity WHERE usename = :r GROUP BY 1"
                            ),
                            {"r": API_READER_ROLE},
                        ).all()
                    )
                if not {"active", "idle in transaction"} & set(sessions):
                    break
                time.sleep(0.1)
            settled_s = time.perf_counter() - settle_started
            answers = Counter(_status_of(sock) for sock in sockets)
        finally:
            for sock in sockets:
                sock.close()
        time.sleep(0.5)
        year_started = time.perf_counter()
        after = httpx.get(f"{settings.api_base_url}/data", params=year | {"variables": "power"}, timeout=60)
        facts = {
            "day": (day, round(day_seconds, 3)),
            "api_sessions": sessions,
            "sessions_idle_after_s": round(settled_s, 1),
            "health_s": [round(h, 3) for h in health],
            "year_after": (after.status_code, round(time.perf_counter() - year_started, 3)),
        }
    return Stress(
        f"{clients} clients ask for a year and read nothing",
        dict(answers),
        max(health),
        time.perf_counter() - started,
        sampler.figures(),
        facts,
    )


# --- finding 3: many clients at once -------------------------------------------------------------------


def _ten_days(base_url: str) -> tuple[str, float]:
    started = time.perf_counter()
    params = {"start": SEEDED[0].isoformat(), "end": SEEDED[1].isoformat(), "variables": VARIABLES, "format": "json"}
    try:
        with httpx.Client(base_url=base_url, timeout=60) as client, client.stream("GET", "/data", params=params) as r:
            for _ in r.iter_raw():
                pass
            what = str(r.status_code)
            if r.status_code == 503:
                what += " + Retry-After" if "retry-after" in r.headers else " without Retry-After"
    except httpx.RemoteProtocolError:
        what = "incomplete read"
    except httpx.TimeoutException:
        what = "client time-out (60 s)"
    return what, time.perf_counter() - started


def run_concurrent_requests(settings: Settings, clients: int = 60) -> Stress:
    """``clients`` requests for the ten seeded days of the farm in JSON at once, /health timed meanwhile."""
    process = api_process(settings)
    started = time.perf_counter()
    with _Sampler(process) as sampler, HealthProbe(settings.api_base_url) as health:
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(lambda _: _ten_days(settings.api_base_url), range(clients)))
    answers = Counter(what for what, _ in results)
    slowest = max(seconds for _, seconds in results)
    facts = {"slowest_answer_s": round(slowest, 2), "health_s": [round(s, 3) for s in health.seconds]}
    return Stress(
        f"{clients} clients ask for 10 days of JSON at once",
        dict(answers),
        health.worst,
        time.perf_counter() - started,
        sampler.figures(),
        facts,
    )


# --- finding 7: unfinished headers ------------------------------------------------------------------------


def _unfinished(settings: Settings, size: int) -> socket.socket:
    """A socket that sends a request line and up to ``size`` bytes of one header that never ends."""
    url = urlsplit(settings.api_base_url)
    sock = socket.create_connection((url.hostname, url.port))
    sock.setblocking(False)
    payload = memoryview(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * size)
    deadline = time.monotonic() + 5
    while payload and time.monotonic() < deadline:
        select.select([], [sock], [], 0.2)
        try:
            payload = payload[sock.send(payload) :]
        except BlockingIOError:
            continue
        except OSError:  # the API closed it (431)
            break
    return sock


def _closed_within(sockets: list[socket.socket], seconds: float) -> tuple[list[float | None], Counter]:
    """For each socket: when the API closed it (None: still open after ``seconds``), and what it answered."""
    started = time.monotonic()
    closed: list[float | None] = [None] * len(sockets)
    heads = [b""] * len(sockets)
    while any(c is None for c in closed) and time.monotonic() - started < seconds:
        open_ones = [i for i, c in enumerate(closed) if c is None]
        readable, _, _ = select.select([sockets[i] for i in open_ones], [], [], 0.2)
        for sock in readable:
            i = sockets.index(sock)
            try:
                piece = sock.recv(65536)
            except OSError:
                piece = b""
            if piece:
                heads[i] += piece
            else:
                closed[i] = time.monotonic() - started
    answers = Counter((head.split(b" ", 2)[1].decode() if head else "closed without answer") for head in heads)
    return closed, answers


def run_unfinished_headers(settings: Settings, sockets: int = 100) -> Stress:
    """``sockets`` connections each sending 1 MB of a header that never ends, and as many sending 1 kB of
    one and then waiting: when does the API close each, and what does it cost the API in memory?"""
    process = api_process(settings)
    timeout = settings.api_header_timeout_s
    started = time.perf_counter()
    with _Sampler(process) as sampler:
        big = [_unfinished(settings, 1 << 20) for _ in range(sockets)]
        small = [_unfinished(settings, 1024) for _ in range(sockets)]
        health = timed_health(settings.api_base_url)
        big_closed, big_answers = _closed_within(big, timeout + 10)
        small_closed, small_answers = _closed_within(small, timeout + 10)
        for sock in big + small:
            sock.close()
        time.sleep(0.5)
    answers = Counter({f"{what} (1 MB of header)": n for what, n in big_answers.items()})
    answers.update({f"{what} (1 kB, then silence)": n for what, n in small_answers.items()})
    open_after = sum(c is None for c in big_closed + small_closed)
    facts = {
        "still_open": open_after,
        "big_closed_by_s": max(c for c in big_closed if c is not None),
        "small_closed_by_s": max((c for c in small_closed if c is not None), default=None),
    }
    if open_after:
        answers["still open"] = open_after
    return Stress(
        f"{sockets} × 1 MB of unfinished headers, {sockets} × 1 kB then silence",
        dict(answers),
        health,
        time.perf_counter() - started,
        sampler.figures(),
        facts,
    )


def scenarios(settings: Settings) -> list[Stress]:
    """Every stress scenario, in the order `make faults` prints them."""
    return [
        run_killed_session(settings, "arrow"),
        run_killed_session(settings, "json"),
        run_non_reading_clients(settings),
        run_concurrent_requests(settings),
        run_unfinished_headers(settings),
    ]
