"""How `make bench` measures: wall seconds, peak memory of a process, a plain psycopg2 connection (the
shortest paths' driver), a seeded source, an answer of the API and a backfill. Shared by ``bench`` and
``fleet``."""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg2
from sqlalchemy.engine import make_url

from etl_lib.config.settings import Settings
from etl_lib.core.contract import DEFAULT_PERIOD_START
from etl_lib.ops.backfill import run_backfill
from etl_lib.simulation.seed import seed_source
from etl_lib.storage.engines import engine_for

UTC = dt.UTC


def seconds_of(work, repeats: int) -> list[float]:
    """Wall seconds of each of ``repeats`` calls of ``work``."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return timings


def median_seconds(work, repeats: int) -> float:
    return statistics.median(seconds_of(work, repeats))


@dataclass(frozen=True)
class Process:
    """One run of a command as a fresh process: wall seconds and what it printed."""

    seconds: float
    stdout: str


def whole_process(command: list[str], cwd: Path) -> Process:
    """Run ``command`` from ``cwd`` as a user types it; a failure raises with its error output."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    return Process(seconds, done.stdout)


def vm_hwm_kib(pid: int) -> int | None:
    """The kernel's peak resident memory (KiB) of a process (``VmHWM``); None once it is gone, or a
    zombie without memory figures."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in lines if line.startswith("VmHWM:")), None)


def peak_mib(command: list[str], cwd: Path) -> float:
    """Peak resident memory (MiB) of one run of ``command`` (not timed): its own ``VmHWM``, read every 5 ms
    until it ends. (The kernel's ``ru_maxrss`` of a child also counts the memory of the process that
    started it, at the fork: here the benchmark's own hundreds of MB.)"""
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0.0
    while child.poll() is None:
        peak = max(peak, (vm_hwm_kib(child.pid) or 0) / 1024)
        time.sleep(0.005)
    if child.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {child.returncode}")
    return peak


def connect(url: str):
    """A psycopg2 connection in UTC to the database of a SQLAlchemy URL (socket or TCP)."""
    parsed = make_url(url)
    return psycopg2.connect(
        dbname=parsed.database,
        user=parsed.username,
        password=parsed.password,
        host=parsed.query.get("host", parsed.host),
        port=parsed.port,
        options="-c TimeZone=UTC",
    )


def seed(settings: Settings, turbines: int, days: int) -> dict:
    """The source made a farm of ``turbines`` over ``days`` from the default start, timed."""
    started = time.perf_counter()
    result = seed_source(engine_for(settings.source_url), DEFAULT_PERIOD_START, days, turbines=turbines)
    seconds = time.perf_counter() - started
    return {
        "turbines": turbines,
        "days": days,
        "rows": result.rows_written,
        "seconds": seconds,
        "rows_per_s": result.rows_written / seconds,
    }


def fetch(client: httpx.Client, start: dt.datetime, end: dt.datetime, fmt: str) -> int:
    """The bytes of the API's whole answer of wind speed and power over ``[start, end)`` in ``fmt``."""
    params = {"start": start.isoformat(), "end": end.isoformat(), "variables": "wind_speed,power", "format": fmt}
    size = 0
    with client.stream("GET", "/data", params=params) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            size += len(chunk)
    return size


def timed_backfill(settings: Settings, days: int, workers: int) -> dict:
    """A backfill of ``days`` days from the default start through the library into an emptied target
    (inserts only: the same work each time)."""
    with connect(settings.target_url) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE data")
    conn.close()
    dates = [DEFAULT_PERIOD_START + dt.timedelta(days=offset) for offset in range(days)]
    result = run_backfill(dates, settings, workers=workers, progress=False)
    return {"seconds": result.seconds, "days_per_second": result.days_per_second, "failed": len(result.failures)}


class PeakMemory:
    """Peak RSS of a process while the block runs: VmHWM after a reset on Linux, else sampled."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._hwm = Path(f"/proc/{pid}/clear_refs")

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.002)

    def __enter__(self) -> PeakMemory:
        try:
            self._hwm.write_text("5")  # resets the kernel's peak-RSS counter
            self.exact = True
        except OSError:
            self.exact = False
        # Sampled only where the counter cannot be reset: the thread would share the GIL with what
        # the block times (the API benchmark reads the answers in this process).
        self._thread = None if self.exact else threading.Thread(target=self._sample, daemon=True)
        if self._thread:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        if self.exact:
            self.peak = max(self.peak, (vm_hwm_kib(self.process.pid) or 0) * 1024)
