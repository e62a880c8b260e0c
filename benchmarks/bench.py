"""`make bench`: speed figures of the ETL on a throw-away embedded stack seeded with a year.

Prints a table and writes benchmarks/results.json (compared with the previous file, if any).
Nothing here is asserted: the figures are read against the targets of the README.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import psutil
import psycopg2
from sqlalchemy.engine import make_url

from etl_lib import generator
from etl_lib.backfill import run_backfill
from etl_lib.db import engine_for
from etl_lib.extract import make_client
from etl_lib.notebook_runner import ensure_kernel, run_notebook
from etl_lib.pipeline import run_etl
from etl_lib.settings import Settings
from etl_lib.source_db import seed_source
from etl_lib.target_schema import ETL_VARIABLES, STATISTICS, signal_ids, signal_name
from etl_lib.testing import temporary_stack

DAYS = 366
REPEATS = 15
DAY = generator.DEFAULT_START + dt.timedelta(days=100)
RESULTS = Path(__file__).with_name("results.json")
UTC = dt.timezone.utc


def median_seconds(work, repeats: int = REPEATS) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def connect(url: str):
    parsed = make_url(url)
    return psycopg2.connect(
        dbname=parsed.database,
        user=parsed.username,
        password=parsed.password,
        host=parsed.query.get("host", parsed.host),
        port=parsed.port,
        options="-c TimeZone=UTC",
    )


# --- 1. One day: the library against the shortest path -------------------------------------------


def shortest_path_day(source, target, run_date: dt.date, ids: dict[str, int]) -> None:
    """One SQL read, pandas resample, one COPY (into a scratch copy of the target table)."""
    start = dt.datetime.combine(run_date, dt.time(0), tzinfo=UTC)
    with source.cursor() as cur:
        cur.execute(
            "SELECT timestamp, wind_speed, power FROM data WHERE timestamp >= %s AND timestamp < %s",
            (start, start + dt.timedelta(days=1)),
        )
        frame = pd.DataFrame(cur.fetchall(), columns=["timestamp", *ETL_VARIABLES]).set_index("timestamp")
    source.rollback()
    stats = frame.astype("float64").resample("10min").agg(list(STATISTICS))
    long = stats.stack([0, 1], future_stack=True).dropna().reset_index()
    long.columns = ["timestamp", "variable", "statistic", "value"]
    long["signal_id"] = [ids[signal_name(v, s)] for v, s in zip(long["variable"], long["statistic"])]
    buffer = io.StringIO()
    long[["timestamp", "signal_id", "value"]].to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    with target.cursor() as cur:
        cur.execute(
            "DELETE FROM bench_shortest WHERE timestamp >= %s AND timestamp < %s",
            (start, start + dt.timedelta(days=1)),
        )
        cur.copy_expert("COPY bench_shortest (timestamp, signal_id, value) FROM STDIN WITH (FORMAT csv)", buffer)
    target.commit()


def bench_day(settings: Settings) -> dict:
    """Library and shortest path alternate, so both see the same load on a shared machine."""
    source, target = connect(settings.source_url), connect(settings.target_url)
    library_s, shortest_s, steps = [], [], []
    try:
        with target.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_shortest")
            cur.execute("CREATE TABLE bench_shortest (LIKE data INCLUDING ALL)")
        target.commit()
        with engine_for(settings.target_url).connect() as conn:
            ids = signal_ids(conn)
        with make_client(settings) as client:
            run_etl(DAY, settings, client=client)  # warm-up: schema check, connections, caches
            shortest_path_day(source, target, DAY, ids)
            for _ in range(REPEATS):
                started = time.perf_counter()
                steps.append(run_etl(DAY, settings, client=client).seconds)
                library_s.append(time.perf_counter() - started)
                started = time.perf_counter()
                shortest_path_day(source, target, DAY, ids)
                shortest_s.append(time.perf_counter() - started)
        with target.cursor() as cur:
            cur.execute("DROP TABLE bench_shortest")
        target.commit()
    finally:
        source.close()
        target.close()
    library, shortest = statistics.median(library_s), statistics.median(shortest_s)
    return {
        "library_median_s": library,
        "library_steps_median_s": {step: statistics.median(s[step] for s in steps) for step in steps[0]},
        "shortest_path_median_s": shortest,
        "ratio_library_to_shortest": library / shortest,
    }


# --- 2. The notebook ----------------------------------------------------------------------------


def bench_notebook(settings: Settings) -> dict:
    import nbformat

    import_s = float(
        subprocess.run(
            [sys.executable, "-c", "import time; t = time.perf_counter(); import papermill; print(time.perf_counter() - t)"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    )
    ensure_kernel()
    started = time.perf_counter()
    run_notebook(DAY, settings)
    notebook_s = time.perf_counter() - started
    # The same papermill call on a notebook with one empty cell: kernel start-up and papermill's overhead.
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "empty.ipynb"
        notebook = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell("date = None", metadata={"tags": ["parameters"]})],
            metadata={"kernelspec": {"name": ensure_kernel(), "language": "python", "display_name": "Python"}},
        )
        nbformat.write(notebook, empty)
        bare = settings.model_copy(update={"notebook_path": empty})
        started = time.perf_counter()
        run_notebook(DAY, bare, output=Path(folder) / "out.ipynb")
        empty_s = time.perf_counter() - started
    return {
        "papermill_import_s": import_s,
        "notebook_run_s": notebook_s,
        "empty_notebook_run_s": empty_s,
        "startup_share": empty_s / notebook_s,
    }


# --- 3. The API against COPY TO STDOUT ------------------------------------------------------------


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
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if self.exact:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)


def copy_to_stdout(settings: Settings, start: dt.datetime, end: dt.datetime) -> int:
    """Rows of the direct COPY TO STDOUT (text) of the same rows the API serves."""
    with connect(settings.api_source_url) as conn, conn.cursor() as cur:
        buffer = io.BytesIO()
        query = cur.mogrify(
            "COPY (SELECT timestamp, wind_speed, power FROM data WHERE timestamp >= %s AND timestamp < %s "
            "ORDER BY timestamp) TO STDOUT",
            (start, end),
        ).decode()
        cur.copy_expert(query, buffer)
    conn.close()
    return buffer.getvalue().count(b"\n")


def fetch(client: httpx.Client, start: dt.datetime, end: dt.datetime, fmt: str) -> int:
    params = {"start": start.isoformat(), "end": end.isoformat(), "variables": "wind_speed,power", "format": fmt}
    size = 0
    with client.stream("GET", "/data", params=params) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            size += len(chunk)
    return size


def bench_api(settings: Settings) -> dict:
    pid = int((settings.stack_dir / "api.pid").read_text())
    idle_mb = psutil.Process(pid).memory_info().rss / 1e6
    results: dict = {"api_idle_rss_mb": idle_mb, "ranges": {}}
    with httpx.Client(base_url=settings.api_base_url, timeout=300) as client:
        for days in (1, 30, 366):
            start = dt.datetime.combine(generator.DEFAULT_START, dt.time(0), tzinfo=UTC)
            end = start + dt.timedelta(days=days)
            repeats = 5 if days < 366 else 3
            rows = copy_to_stdout(settings, start, end)
            figures = {"rows": rows}
            copy_s = median_seconds(lambda: copy_to_stdout(settings, start, end), repeats)
            figures["copy_rows_per_s"] = rows / copy_s
            for fmt in ("json", "arrow"):
                fetch(client, start, end, fmt)
                with PeakMemory(pid) as memory:
                    seconds = median_seconds(lambda: fetch(client, start, end, fmt), repeats)
                figures[f"{fmt}_rows_per_s"] = rows / seconds
                figures[f"{fmt}_vs_copy"] = copy_s / seconds
                figures[f"{fmt}_peak_rss_mb"] = memory.peak / 1e6
                figures[f"{fmt}_bytes"] = fetch(client, start, end, fmt)
            results["ranges"][f"{days}d"] = figures
    return results


# --- 4. Backfill ------------------------------------------------------------------------------------


def bench_backfill(settings: Settings) -> dict:
    dates = [generator.DEFAULT_START + dt.timedelta(days=offset) for offset in range(DAYS)]
    figures = {}
    for workers in (1, 2):
        with connect(settings.target_url) as conn, conn.cursor() as cur:  # same work each time: inserts only
            cur.execute("TRUNCATE data")
        conn.close()
        result = run_backfill(dates, settings, workers=workers, progress=False)
        figures[f"workers_{workers}"] = {
            "seconds": result.seconds,
            "days_per_second": result.days_per_second,
            "failed": len(result.failures),
        }
    figures["speedup_2_workers"] = figures["workers_1"]["seconds"] / figures["workers_2"]["seconds"]
    return figures


# --- 5. The aggregation pushed into SQL (the "Scaling out" argument) ---------------------------------

SQL_STATISTICS = """
SELECT date_bin('10 minutes', timestamp, TIMESTAMPTZ '2000-01-01 00:00Z') AS bucket,
       avg(wind_speed), min(wind_speed), max(wind_speed), stddev_samp(wind_speed),
       avg(power), min(power), max(power), stddev_samp(power)
FROM data WHERE timestamp >= %s AND timestamp < %s GROUP BY 1
"""


def bench_sql_aggregation(settings: Settings) -> dict:
    start = dt.datetime.combine(DAY, dt.time(0), tzinfo=UTC)
    first = dt.datetime.combine(generator.DEFAULT_START, dt.time(0), tzinfo=UTC)
    with connect(settings.source_url) as conn, conn.cursor() as cur:

        def day() -> None:
            cur.execute(SQL_STATISTICS, (start, start + dt.timedelta(days=1)))
            cur.fetchall()

        def year() -> None:
            cur.execute(SQL_STATISTICS, (first, first + dt.timedelta(days=DAYS)))
            cur.fetchall()

        day()
        figures = {"day_s": median_seconds(day), "year_s": median_seconds(year, 3)}
    conn.close()
    figures["year_per_day_ms"] = figures["year_s"] / DAYS * 1000
    return figures


# --- Report -------------------------------------------------------------------------------------------


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or model
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def rows_of(results: dict) -> list[tuple[str, str, str]]:
    day, nb, api, bf = results["day"], results["notebook"], results["api"], results["backfill"]
    steps = ", ".join(f"{k} {v * 1000:.0f}" for k, v in day["library_steps_median_s"].items())
    table = [
        ("seed 366 days (COPY)", f"{results['seed']['seconds']:.1f} s", f"{results['seed']['rows_per_s']:,.0f} rows/s"),
        ("ETL of a day, library (median)", f"{day['library_median_s'] * 1000:.0f} ms", f"target < 100 ms; ms: {steps}"),
        ("ETL of a day, shortest path", f"{day['shortest_path_median_s'] * 1000:.0f} ms", "psycopg2 read, resample, COPY"),
        ("  ratio library / shortest", f"{day['ratio_library_to_shortest']:.1f}x", "target <= 3x"),
        ("papermill run of a day", f"{nb['notebook_run_s']:.1f} s", "target < 5 s"),
        ("  of it: empty notebook", f"{nb['empty_notebook_run_s']:.1f} s", f"{nb['startup_share']:.0%} kernel start + papermill"),
        ("  import papermill", f"{nb['papermill_import_s']:.1f} s", "once per process"),
        ("API idle RSS", f"{api['api_idle_rss_mb']:.0f} MB", ""),
    ]
    for name, r in api["ranges"].items():
        table += [
            (f"API {name}: COPY TO STDOUT", f"{r['copy_rows_per_s']:,.0f} rows/s", f"{r['rows']:,} rows"),
            (
                f"API {name}: JSON",
                f"{r['json_rows_per_s']:,.0f} rows/s",
                f"{r['json_vs_copy']:.2f} of COPY, peak {r['json_peak_rss_mb']:.0f} MB",
            ),
            (
                f"API {name}: Arrow",
                f"{r['arrow_rows_per_s']:,.0f} rows/s",
                f"{r['arrow_vs_copy']:.2f} of COPY, peak {r['arrow_peak_rss_mb']:.0f} MB",
            ),
        ]
    for workers in (1, 2):
        w = bf[f"workers_{workers}"]
        table.append(
            (f"backfill 366 days, {workers} worker(s)", f"{w['seconds']:.1f} s", f"{w['days_per_second']:.1f} days/s, {w['failed']} failed")
        )
    table.append(("  speed-up 1 -> 2 workers", f"{bf['speedup_2_workers']:.2f}x", "target: 366 days < 30 s"))
    sql = results["sql_aggregation"]
    table += [
        ("SQL statistics of a day (source)", f"{sql['day_s'] * 1000:.1f} ms", "date_bin + avg/min/max/stddev_samp"),
        ("SQL statistics of 366 days, 1 query", f"{sql['year_s']:.2f} s", f"{sql['year_per_day_ms']:.1f} ms per day"),
    ]
    return table


def headline(results: dict) -> dict[str, float]:
    """The figures compared with the previous run."""
    year = results["api"]["ranges"]["366d"]
    return {
        "ETL day, library (s)": results["day"]["library_median_s"],
        "ratio library/shortest": results["day"]["ratio_library_to_shortest"],
        "papermill run (s)": results["notebook"]["notebook_run_s"],
        "API year Arrow / COPY": year["arrow_vs_copy"],
        "API year peak RSS (MB)": max(year["arrow_peak_rss_mb"], year["json_peak_rss_mb"]),
        "backfill 1 worker (s)": results["backfill"]["workers_1"]["seconds"],
        "backfill 2 workers (s)": results["backfill"]["workers_2"]["seconds"],
    }


def main() -> None:
    results: dict = {"when": dt.datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    with temporary_stack(days=1, run_days=False) as settings:
        started = time.perf_counter()
        seeded = seed_source(engine_for(settings.source_url), days=DAYS)
        seconds = time.perf_counter() - started
        results["seed"] = {"seconds": seconds, "rows": seeded.rows_written, "rows_per_s": seeded.rows_written / seconds}
        print(f"seeded {seeded.rows_written:,} rows in {seconds:.1f} s; measuring ...", file=sys.stderr)
        results["day"] = bench_day(settings)
        results["notebook"] = bench_notebook(settings)
        results["api"] = bench_api(settings)
        results["sql_aggregation"] = bench_sql_aggregation(settings)
        results["backfill"] = bench_backfill(settings)

    table = rows_of(results)
    width = max(len(name) for name, _, _ in table)
    print(f"\nMachine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
          f"{results['machine']['memory_gb']} GB, load average at start {results['machine']['load_average_at_start']}")
    for name, value, note in table:
        print(f"{name:<{width}}  {value:>18}  {note}")
    if RESULTS.exists():
        previous = json.loads(RESULTS.read_text())
        try:
            before = headline(previous)
            print(f"\nAgainst the previous run ({previous.get('when', '?')}):")
            for name, value in headline(results).items():
                print(f"{name:<{width}}  {before[name]:>10.3f} -> {value:>10.3f}  ({value / before[name]:.2f}x)")
        except (KeyError, ZeroDivisionError, TypeError):
            print("\n(previous results.json has another layout; not compared)")
    RESULTS.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
