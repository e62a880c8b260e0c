"""`make bench`: speed figures of the ETL on a throw-away embedded stack seeded with a year.

Prints a table, compares its headline figures with the last saved ones (benchmarks/results.json,
tracked) and writes the run to benchmarks/results.latest.json (git-ignored). With --save
(``make bench SAVE=1``) the run also becomes the saved figures, to commit with the docs' figures (make docs regenerates docs/reference/performance.md).
Nothing here is asserted: the figures are read against the targets of docs/performance.md.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
import psutil

from etl_lib.config.settings import PROJECT_ROOT, Settings
from etl_lib.core.contract import DEFAULT_PERIOD_START, DEFAULT_TURBINES
from etl_lib.notebook.runner import ensure_kernel
from etl_lib.ops.stack import running_api
from harness.stack import temporary_stack

from . import dagster_fleet, fleet
from . import feed as live_feed
from . import sync as sync_bench
from .measure import (
    UTC,
    PeakMemory,
    connect,
    fetch,
    median_seconds,
    peak_mib,
    seed,
    timed_backfill,
    whole_process,
)

DAYS = 366
REPEATS = 15
DAY = DEFAULT_PERIOD_START + dt.timedelta(days=100)
SAVED = Path(__file__).with_name("results.json")  # tracked: the figures docs/performance.md shows
LATEST = Path(__file__).with_name("results.latest.json")  # git-ignored: every run


# --- 2. The notebook, as the user runs it ----------------------------------------------------------

NOTEBOOK_DAY = dt.date(2024, 10, 6)  # the day with the most to show: saturated readings and curtailment
WHOLE_PROCESS_REPEATS = 5
BIN = Path(sys.executable).parent
REFERENCE = Path(__file__).with_name("reference_etl.py")
MACHINE_YARDSTICK = "import pandas, sqlalchemy, httpx"


def whole_process_seconds(command: list[str], repeats: int = WHOLE_PROCESS_REPEATS) -> list[float]:
    """Wall seconds of ``command`` run afresh ``repeats`` times from the project's root, as a user runs it."""
    return [whole_process(command, PROJECT_ROOT).seconds for _ in range(repeats)]


def cell_seconds(report: Path) -> tuple[float, float]:
    """From an executed report's papermill metadata: the seconds of the cell that imports the library
    (the kernel's imports) and of every later cell (the notebook's work)."""
    import nbformat

    cells = [c for c in nbformat.read(report, as_version=4).cells if c.cell_type == "code"]
    setup = next(i for i, c in enumerate(cells) if "from etl_lib" in c.source)
    seconds = [c.metadata.get("papermill", {}).get("duration") or 0.0 for c in cells]
    return seconds[setup], sum(seconds[setup + 1 :])


def bench_library_command(settings: Settings, day: str) -> dict:
    """``etl run --no-report D`` against the plain reference (``reference_etl.py``: fetch, pandas, SQLAlchemy;
    no checks, no run record) on the same stack: each a fresh whole process, taking turns (a machine that
    slows down mid-way slows both), median of 5; the peak memory of each in one more run; and where the
    command's time goes: the steps it reports (extract, quality, transform, load) and the rest (start-up:
    interpreter, imports, settings, the CLI)."""
    commands = {
        "etl": [str(BIN / "etl"), "run", "--no-report", day],
        "reference": [sys.executable, str(REFERENCE), settings.api_base_url, settings.target_url, day],
    }
    runs: dict[str, list] = {name: [] for name in commands}
    for _ in range(WHOLE_PROCESS_REPEATS):
        for name, command in commands.items():
            runs[name].append(whole_process(command, PROJECT_ROOT))
    etl_s, reference_s = ([r.seconds for r in runs[name]] for name in commands)
    peaks = {name: peak_mib(command, PROJECT_ROOT) for name, command in commands.items()}
    middle = sorted(runs["etl"], key=lambda r: r.seconds)[len(etl_s) // 2]
    steps = json.loads(middle.stdout)["seconds"]
    return {
        "etl_run_no_report_s": statistics.median(etl_s),
        "etl_run_no_report_runs_s": etl_s,
        "etl_run_no_report_peak_mib": peaks["etl"],
        "etl_run_no_report_steps_s": steps,
        "etl_run_no_report_start_up_s": middle.seconds - sum(steps.values()),
        "reference_s": statistics.median(reference_s),
        "reference_runs_s": reference_s,
        "reference_peak_mib": peaks["reference"],
        "no_report_vs_reference": statistics.median(etl_s) / statistics.median(reference_s),
    }


def bench_notebook(settings: Settings) -> dict:
    """The user's command ``papermill notebooks/etl.ipynb runs/D.ipynb -p date D`` and ``etl run D``, each a
    fresh whole process (median of 5), and where the time of the first goes: importing papermill (a fresh
    ``python -c "import papermill"``), starting the kernel (papermill on a notebook with one empty cell,
    less the import; the kernel loads the notebooks' libraries meanwhile, etl_lib.notebook.kernel.PRELOAD,
    and its first cell waits for them), the imports left to the notebook's import cell and the
    notebook's work (the cells' durations that papermill records), and the rest (papermill reading,
    saving and writing the report, stopping the kernel)."""
    import nbformat

    kernel = ensure_kernel()
    day = NOTEBOOK_DAY.isoformat()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / f"{day}.ipynb"
        papermill = [str(BIN / "papermill"), "notebooks/etl.ipynb", str(report), "-p", "date", day]
        command_s = whole_process_seconds(papermill)
        imports_s, work_s = cell_seconds(report)
        etl_run_s = whole_process_seconds([str(BIN / "etl"), "run", day])
        library = bench_library_command(settings, day)
        import_s = whole_process_seconds([sys.executable, "-c", "import papermill"])
        empty = Path(folder) / "empty.ipynb"
        notebook = nbformat.v4.new_notebook(
            # The parameters run_notebook passes (etl.ipynb's date and report_path), so papermill
            # has nothing to warn about.
            cells=[nbformat.v4.new_code_cell("date = None\nreport_path = None", metadata={"tags": ["parameters"]})],
            metadata={"kernelspec": {"name": kernel, "language": "python", "display_name": "Python"}},
        )
        nbformat.write(notebook, empty)
        empty_s = whole_process_seconds([str(BIN / "papermill"), str(empty), str(Path(folder) / "out.ipynb")])
    command, papermill_import, empty_run = (statistics.median(x) for x in (command_s, import_s, empty_s))
    return {
        "day": day,
        "papermill_command_s": command,
        "papermill_command_runs_s": command_s,
        "etl_run_s": statistics.median(etl_run_s),
        "etl_run_runs_s": etl_run_s,
        **library,
        "papermill_import_s": papermill_import,
        "kernel_start_s": empty_run - papermill_import,
        "kernel_imports_s": imports_s,
        "notebook_work_s": work_s,
        "rest_s": command - empty_run - imports_s - work_s,
        "load_average": [load_before, os.getloadavg()[0]],
    }


# --- 3. The API against COPY TO STDOUT ------------------------------------------------------------


def copy_to_stdout(settings: Settings, start: dt.datetime, end: dt.datetime) -> int:
    """Rows of the direct COPY TO STDOUT (text) of the same rows the API serves, in its order (time, then
    turbine) and with the turbine's name."""
    with connect(settings.api_source_url) as conn, conn.cursor() as cur:
        buffer = io.BytesIO()
        query = cur.mogrify(
            "COPY (SELECT t.name, d.timestamp, d.wind_speed, d.power FROM data d JOIN turbine t ON t.id = d.turbine_id "
            "WHERE d.timestamp >= %s AND d.timestamp < %s ORDER BY d.timestamp, d.turbine_id) TO STDOUT",
            (start, end),
        ).decode()
        cur.copy_expert(query, buffer)
    conn.close()
    return buffer.getvalue().count(b"\n")


def bench_api(settings: Settings) -> dict:
    api = running_api(settings)
    pid = api.pid
    idle_mb = api.memory_info().rss / 1e6
    results: dict = {"api_idle_rss_mb": idle_mb, "ranges": {}}
    with httpx.Client(base_url=settings.api_base_url, timeout=300) as client:
        for days in (1, 30, 366):
            start = dt.datetime.combine(DEFAULT_PERIOD_START, dt.time(0), tzinfo=UTC)
            end = start + dt.timedelta(days=days)
            repeats = 5 if days < 366 else 3
            rows = copy_to_stdout(settings, start, end)
            figures = {"rows": rows}
            copy_s = median_seconds(lambda start=start, end=end: copy_to_stdout(settings, start, end), repeats)
            figures["copy_rows_per_s"] = rows / copy_s
            for fmt in ("json", "arrow"):
                figures[f"{fmt}_bytes"] = fetch(client, start, end, fmt)  # and a warm-up
                with PeakMemory(pid) as memory:
                    seconds = median_seconds(
                        lambda start=start, end=end, fmt=fmt: fetch(client, start, end, fmt), repeats
                    )
                figures[f"{fmt}_rows_per_s"] = rows / seconds
                figures[f"{fmt}_vs_copy"] = copy_s / seconds
                figures[f"{fmt}_peak_rss_mb"] = memory.peak / 1e6
            results["ranges"][f"{days}d"] = figures
    return results


# --- 4. Backfill ------------------------------------------------------------------------------------


def bench_backfill(settings: Settings) -> dict:
    figures = {f"workers_{workers}": timed_backfill(settings, DAYS, workers) for workers in (1, 2)}
    figures["speedup_2_workers"] = figures["workers_1"]["seconds"] / figures["workers_2"]["seconds"]
    return figures


# --- 5. The aggregation pushed into SQL (the "Scaling out" argument) ---------------------------------

SQL_STATISTICS = """
SELECT turbine_id, date_bin('10 minutes', timestamp, TIMESTAMPTZ '2000-01-01 00:00Z') AS bucket,
       avg(wind_speed), min(wind_speed), max(wind_speed), stddev_samp(wind_speed),
       avg(power), min(power), max(power), stddev_samp(power)
FROM data WHERE timestamp >= %s AND timestamp < %s GROUP BY 1, 2
"""


def bench_sql_aggregation(settings: Settings) -> dict:
    start = dt.datetime.combine(DAY, dt.time(0), tzinfo=UTC)
    first = dt.datetime.combine(DEFAULT_PERIOD_START, dt.time(0), tzinfo=UTC)
    with connect(settings.source_url) as conn, conn.cursor() as cur:

        def day() -> None:
            cur.execute(SQL_STATISTICS, (start, start + dt.timedelta(days=1)))
            cur.fetchall()

        def year() -> None:
            cur.execute(SQL_STATISTICS, (first, first + dt.timedelta(days=DAYS)))
            cur.fetchall()

        day()
        figures = {"day_s": median_seconds(day, REPEATS), "year_s": median_seconds(year, 3)}
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
        # How fast this machine starts Python with the libraries every command needs (median of 5 fresh
        # processes): the figures of whole processes scale with it, so two runs compare through it.
        "import_seconds": statistics.median(whole_process_seconds([sys.executable, "-c", MACHINE_YARDSTICK])),
    }


def rows_of(results: dict) -> list[tuple[str, str, str]]:
    nb, api, bf = results["notebook"], results["api"], results["backfill"]
    seeded = results["seed"]
    table = [
        (
            f"seed {seeded['turbines']} turbines x {seeded['days']} days (COPY)",
            f"{seeded['seconds']:.1f} s",
            f"{seeded['rows']:,} rows, {seeded['rows_per_s']:,.0f} rows/s",
        ),
        *fleet.day_rows(results["day"], "the default farm"),
        *notebook_rows(nb),
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
            (
                f"backfill {DAYS} days, {workers} worker(s)",
                f"{w['seconds']:.1f} s",
                f"{w['days_per_second']:.1f} days/s, {w['failed']} failed",
            )
        )
    table.append(("  speed-up 1 -> 2 workers", f"{bf['speedup_2_workers']:.2f}x", ""))
    sql = results["sql_aggregation"]
    table += [
        (
            "SQL statistics of a farm day (source)",
            f"{sql['day_s'] * 1000:.1f} ms",
            "date_bin + avg/min/max/stddev_samp",
        ),
        (
            f"SQL statistics of {DAYS} days, 1 query",
            f"{sql['year_s']:.2f} s",
            f"{sql['year_per_day_ms']:.1f} ms per day",
        ),
        *fleet.rows_of(results),
        *dagster_fleet.rows_of(results),
        *live_feed.rows_of(results),
        *(sync_bench.rows_of(results["sync"]) if "sync" in results else []),
    ]
    return table


def notebook_rows(nb: dict) -> list[tuple[str, str, str]]:
    rows = [
        (
            f"papermill command, {nb['day']} (median of 5)",
            f"{nb['papermill_command_s']:.2f} s",
            f"target <= 3.5 s; runs: {', '.join(f'{x:.2f}' for x in nb['papermill_command_runs_s'])}",
        ),
        ("  of it: import papermill", f"{nb['papermill_import_s']:.2f} s", "a fresh python -c 'import papermill'"),
        (
            "  of it: kernel start and preload",
            f"{nb['kernel_start_s']:.2f} s",
            "papermill on one empty cell, less the import: the kernel and the libraries it preloads",
        ),
        ("  of it: kernel imports", f"{nb['kernel_imports_s']:.2f} s", "the notebook's import cell: what is left"),
        ("  of it: the notebook's work", f"{nb['notebook_work_s']:.2f} s", "run, tables, figures (the later cells)"),
        (
            "  of it: the rest",
            f"{nb['rest_s']:.2f} s",
            "papermill reading, saving, writing; kernel shutdown (the parts are timed in separate runs and "
            "overlap, so this can come out below 0)",
        ),
        (
            f"etl run {nb['day']} (median of 5)",
            f"{nb['etl_run_s']:.2f} s",
            f"target <= 3.5 s; runs: {', '.join(f'{x:.2f}' for x in nb['etl_run_runs_s'])}",
        ),
        (
            f"etl run --no-report {nb['day']} (median of 5)",
            f"{nb['etl_run_no_report_s']:.2f} s",
            f"target <= 0.7 s; runs: {', '.join(f'{x:.2f}' for x in nb['etl_run_no_report_runs_s'])}",
        ),
    ]
    if "reference_s" not in nb:  # a saved run from before the reference was measured
        return rows
    steps = nb["etl_run_no_report_steps_s"]
    return rows + [
        (
            "  of it: start-up",
            f"{nb['etl_run_no_report_start_up_s']:.2f} s",
            "interpreter, imports (pandas, SQLAlchemy, httpx, pydantic, typer), settings, the CLI",
        ),
        ("  of it: the steps", f"{sum(steps.values()):.2f} s", ", ".join(f"{k} {v:.2f}" for k, v in steps.items())),
        ("  peak memory", f"{nb['etl_run_no_report_peak_mib']:.0f} MiB", "VmHWM of a sixth run"),
        (
            "plain reference, same day (median of 5)",
            f"{nb['reference_s']:.2f} s",
            f"benchmarks/reference_etl.py: JSON, pandas, SQLAlchemy insert, no checks; peak "
            f"{nb['reference_peak_mib']:.0f} MiB; runs: {', '.join(f'{x:.2f}' for x in nb['reference_runs_s'])}",
        ),
        (
            "  etl run --no-report / reference",
            f"{nb['no_report_vs_reference']:.2f}x",
            "the target's machine: 0.7 s against the reference's 0.95 s = 0.74x",
        ),
    ]


def headline(results: dict) -> dict[str, float]:
    """The figures compared with the previous run: those of ``HEADLINE`` that ``results`` holds."""
    figures = {}
    for name, figure in HEADLINE.items():
        try:
            figures[name] = figure(results)
        except (KeyError, TypeError):  # not measured by that run (an older layout)
            continue
    return figures


HEADLINE = {
    "machine: python -c 'import pandas, ...' (s)": lambda r: r["machine"]["import_seconds"],
    "ETL day, library (s)": lambda r: r["day"]["library_median_s"],
    "ratio library/shortest": lambda r: r["day"]["ratio_library_to_shortest"],
    "100-turbine day, library (s)": lambda r: r["farm_day"]["library_median_s"],
    "100-turbine day ratio": lambda r: r["farm_day"]["ratio_library_to_shortest"],
    "20-turbine year backfill (s)": lambda r: r["farm_year"]["backfill_2_workers"]["seconds"],
    "day with KPIs / without": lambda r: r["day"]["ratio_kpis_to_without"],
    "100-turbine day with KPIs / without": lambda r: r["farm_day"]["ratio_kpis_to_without"],
    "etl kpis, 20-turbine year by month (s)": lambda r: r["farm_year"]["etl_kpis_s"]["by month"],
    "20-turbine year API peak (MB)": lambda r: max(r["farm_year"]["api"][f]["peak_rss_mb"] for f in ("arrow", "json")),
    "papermill command (s)": lambda r: r["notebook"]["papermill_command_s"],
    "etl run (s)": lambda r: r["notebook"]["etl_run_s"],
    "etl run --no-report (s)": lambda r: r["notebook"]["etl_run_no_report_s"],
    "etl run --no-report / reference": lambda r: r["notebook"]["no_report_vs_reference"],
    "API year Arrow / COPY": lambda r: r["api"]["ranges"]["366d"]["arrow_vs_copy"],
    "API year peak RSS (MB)": lambda r: max(
        r["api"]["ranges"]["366d"]["arrow_peak_rss_mb"], r["api"]["ranges"]["366d"]["json_peak_rss_mb"]
    ),
    "backfill 1 worker (s)": lambda r: r["backfill"]["workers_1"]["seconds"],
    "backfill 2 workers (s)": lambda r: r["backfill"]["workers_2"]["seconds"],
}


def write_results(results: dict, *, save: bool, latest: Path = LATEST, saved: Path = SAVED) -> list[str]:
    """Compare the headline figures with the saved ones, write the run to ``latest`` and, with
    ``save``, to ``saved`` too; return the lines to print."""
    now = headline(results)
    width = max((len(name) for name in now), default=10)
    lines = []
    if saved.exists():
        previous = json.loads(saved.read_text())
        before = headline(previous)
        lines.append(
            f"\nAgainst the saved figures of {previous.get('when', '?')} ({saved.name}; figures it did "
            "not measure are left out):"
        )
        for name, value in now.items():
            if before.get(name):
                lines.append(f"{name:<{width}}  {before[name]:>10.3f} -> {value:>10.3f}  ({value / before[name]:.2f}x)")
    text = json.dumps(results, indent=2, default=float) + "\n"
    latest.write_text(text)
    lines.append(f"\nwritten to {latest}")
    if save:
        saved.write_text(text)
        lines.append(f"saved as {saved}: commit it, and run make docs for the docs' figures")
    else:
        lines.append(f"{saved.name} unchanged; `make bench SAVE=1` saves a run there")
    return lines


def main(save: bool = False) -> None:
    if "notebook" in sys.argv[1:]:  # python -m benchmarks.bench notebook: that part alone, on ten days
        with temporary_stack(run_days=False) as settings:
            nb = bench_notebook(settings)
        print(
            f"load average {nb['load_average'][0]:.2f} at the start, {nb['load_average'][1]:.2f} at the end; "
            f"`python -c '{MACHINE_YARDSTICK}'` takes {machine()['import_seconds']:.2f} s"
        )
        for name, value, note in notebook_rows(nb):
            print(f"{name:<40}  {value:>8}  {note}")
        return
    if "dagster" in sys.argv[1:]:  # python -m benchmarks.bench dagster: the Dagster backfill alone
        with temporary_stack(days=1, run_days=False) as settings:
            seed(settings, DEFAULT_TURBINES, dagster_fleet.DAYS)
            table = dagster_fleet.rows_of({"dagster": dagster_fleet.bench_dagster(settings)})
        for name, value, note in table:
            print(f"{name:<40}  {value:>14}  {note}")
        return
    if "feed" in sys.argv[1:]:  # python -m benchmarks.bench feed: the live feed alone
        with temporary_stack(days=1, run_days=False) as settings:
            table = live_feed.rows_of({"feed": live_feed.bench_feed(settings)})
        for name, value, note in table:
            print(f"{name:<40}  {value:>14}  {note}")
        return
    if "sync" in sys.argv[1:]:  # python -m benchmarks.bench sync: change tracking and etl sync alone
        with temporary_stack(days=1, run_days=False) as settings:
            seeded = seed(settings, fleet.YEAR_TURBINES, fleet.YEAR_DAYS)
            print(f"seeded {seeded['rows']:,} rows in {seeded['seconds']:.1f} s; measuring ...", file=sys.stderr)
            sync_bench.record_runs(settings, DEFAULT_PERIOD_START, fleet.YEAR_DAYS)
            table = sync_bench.rows_of(sync_bench.bench_sync(settings, fleet.YEAR_TURBINES, fleet.YEAR_DAYS))
        for name, value, note in table:
            print(f"{name:<40}  {value:>10}  {note}")
        return
    results: dict = {"when": dt.datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    with temporary_stack(days=1, run_days=False) as settings:
        results["seed"] = seed(settings, DEFAULT_TURBINES, DAYS)
        print(
            f"seeded {results['seed']['rows']:,} rows in {results['seed']['seconds']:.1f} s; measuring ...",
            file=sys.stderr,
        )
        results["day"] = fleet.bench_day(settings, DAY, REPEATS)
        results["notebook"] = bench_notebook(settings)
        results["api"] = bench_api(settings)
        results["sql_aggregation"] = bench_sql_aggregation(settings)
        results["backfill"] = bench_backfill(settings)
        print("Dagster through the workers ...", file=sys.stderr)
        results["dagster"] = dagster_fleet.bench_dagster(settings)
        print("the fleet: 100 turbines for a day, 20 for a year ...", file=sys.stderr)
        results["farm_day"] = fleet.bench_farm_day(settings)
        results["farm_year"] = fleet.bench_farm_year(settings)
        print("the live feed: 100 turbines as fast as they go ...", file=sys.stderr)
        results["feed"] = live_feed.bench_feed(settings)
        print("change tracking: the changed days of that year, etl sync with nothing to do ...", file=sys.stderr)
        results["sync"] = sync_bench.bench_sync(settings, fleet.YEAR_TURBINES, fleet.YEAR_DAYS)

    table = rows_of(results)
    width = max(len(name) for name, _, _ in table)
    m = results["machine"]
    print(
        f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, load average at start "
        f"{m['load_average_at_start']}; `python -c '{MACHINE_YARDSTICK}'` takes {m['import_seconds']:.2f} s"
    )
    for name, value, note in table:
        print(f"{name:<{width}}  {value:>18}  {note}")
    print("\n".join(write_results(results, save=save)))


if __name__ == "__main__":
    main(save="--save" in sys.argv[1:])
