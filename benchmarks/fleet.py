"""The farm's speed figures for `make bench`: a day of a farm through the library against the shortest
path (the default 4 turbines, and 100), a year of a 20-turbine farm backfilled, and the API's memory
for that year.

Each function takes the settings of a throw-away stack; the 100- and 20-turbine figures reseed its
source as they need. Nothing here asserts; the figures are read against the targets of docs/performance.md.
"""

from __future__ import annotations

import datetime as dt
import io
import statistics
import sys
import time
from pathlib import Path

import httpx
import pandas as pd

from etl_lib.config.settings import PROJECT_ROOT, Settings
from etl_lib.core.contract import DEFAULT_PERIOD_START, ETL_VARIABLES, STATISTICS
from etl_lib.ops.stack import running_api
from etl_lib.pipeline.extract import make_client
from etl_lib.pipeline.run import run_etl

from .measure import UTC, PeakMemory, connect, fetch, seed, timed_backfill, whole_process

FARM_DAY_TURBINES = 100
YEAR_TURBINES = 20
YEAR_DAYS = 365
FARM_REPEATS = 5
KPI_REPEATS = 3
# `etl kpis` over the year, as the user types it (whole processes; the table printed to the terminal).
KPI_COMMANDS = {"by month": ["--by", "month"], "by day, the farm": ["--total"]}


def shortest_path_day(source, target, run_date: dt.date) -> int:
    """One SQL read of the farm's day, one vectorised aggregation (per turbine and bucket), one COPY of
    the statistics into a scratch copy of the target's data table (no keys to check); the rows written."""
    start = dt.datetime.combine(run_date, dt.time(0), tzinfo=UTC)
    with source.cursor() as cur:
        cur.execute(
            "SELECT turbine_id, timestamp, wind_speed, power FROM data WHERE timestamp >= %s AND timestamp < %s",
            (start, start + dt.timedelta(days=1)),
        )
        frame = pd.DataFrame(cur.fetchall(), columns=["turbine_id", "timestamp", *ETL_VARIABLES])
    source.rollback()
    frame["bucket"] = frame["timestamp"].dt.floor("10min")
    stats = frame.groupby(["turbine_id", "bucket"])[list(ETL_VARIABLES)].agg(list(STATISTICS))
    long = stats.stack([0, 1], future_stack=True).dropna().reset_index()
    long.columns = ["turbine_id", "timestamp", "variable", "statistic", "value"]
    signal = (
        long["turbine_id"] * 100
        + long["variable"].map({v: i for i, v in enumerate(ETL_VARIABLES)}) * 10
        + long["statistic"].map({s: i for i, s in enumerate(STATISTICS)})
    )
    buffer = io.StringIO()
    pd.DataFrame({"timestamp": long["timestamp"], "signal_id": signal, "value": long["value"]}).to_csv(
        buffer, index=False, header=False
    )
    buffer.seek(0)
    with target.cursor() as cur:
        cur.execute(
            "DELETE FROM bench_shortest WHERE timestamp >= %s AND timestamp < %s", (start, start + dt.timedelta(days=1))
        )
        cur.copy_expert("COPY bench_shortest (timestamp, signal_id, value) FROM STDIN WITH (FORMAT csv)", buffer)
    target.commit()
    return len(long)


def bench_day(settings: Settings, day: dt.date, repeats: int) -> dict:
    """A day of the source's farm through ``run_etl`` (with and without KPIs) and by the shortest path,
    interleaved, so all see the same load on a shared machine (medians of ``repeats``)."""
    source, target = connect(settings.source_url), connect(settings.target_url)
    library_s, shortest_s, no_kpis_s, steps, no_kpis_steps = [], [], [], [], []
    try:
        with target.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_shortest")
            cur.execute("CREATE TABLE bench_shortest (LIKE data INCLUDING ALL)")
        target.commit()
        with make_client(settings) as client:
            result = run_etl(day, settings, client=client)  # warm-up: schema, signals, connections
            shortest_path_day(source, target, day)

            def with_kpis() -> None:
                started = time.perf_counter()
                steps.append(run_etl(day, settings, client=client).seconds)
                library_s.append(time.perf_counter() - started)

            def shortest() -> None:
                started = time.perf_counter()
                shortest_path_day(source, target, day)
                shortest_s.append(time.perf_counter() - started)

            def without_kpis() -> None:
                started = time.perf_counter()
                no_kpis_steps.append(run_etl(day, settings, client=client, kpis=False).seconds)
                no_kpis_s.append(time.perf_counter() - started)

            for repeat in range(repeats):
                # The shortest path reads the source's day straight from PostgreSQL, warming its pages for the
                # run after it: each of the two runs comes after it every other time.
                order = (with_kpis, shortest, without_kpis) if repeat % 2 else (without_kpis, shortest, with_kpis)
                for step in order:
                    step()
            run_etl(day, settings, client=client)  # leave the day with its KPIs
        with target.cursor() as cur:
            cur.execute("DROP TABLE bench_shortest")
        target.commit()
    finally:
        source.close()
        target.close()
    library, shortest = statistics.median(library_s), statistics.median(shortest_s)
    return {
        "day": day.isoformat(),
        "turbines": len(result.scope.turbines),
        "source_rows": result.rows_read,
        "target_rows": result.rows_written,
        "library_median_s": library,
        "library_steps_median_s": {step: statistics.median(s[step] for s in steps) for step in steps[0]},
        "shortest_path_median_s": shortest,
        "ratio_library_to_shortest": library / shortest,
        "without_kpis_median_s": statistics.median(no_kpis_s),
        "without_kpis_steps_median_s": {
            step: statistics.median(s[step] for s in no_kpis_steps) for step in no_kpis_steps[0]
        },
        "ratio_kpis_to_without": library / statistics.median(no_kpis_s),
        # each run with KPIs over the run without them right after it: a drift of the machine's speed cancels
        "paired_ratio_kpis_to_without": statistics.median(k / n for k, n in zip(library_s, no_kpis_s)),
    }


def bench_farm_day(settings: Settings) -> dict:
    """A day of a farm of ``FARM_DAY_TURBINES`` (the source reseeded with two days of it)."""
    seeded = seed(settings, FARM_DAY_TURBINES, 2)
    return {"seed": seeded, **bench_day(settings, DEFAULT_PERIOD_START + dt.timedelta(days=1), FARM_REPEATS)}


def bench_farm_year(settings: Settings) -> dict:
    """A year of a ``YEAR_TURBINES`` farm: the API's peak memory serving it (Arrow and JSON), then a
    backfill of every day through the library with 2 workers, from an empty target."""
    seeded = seed(settings, YEAR_TURBINES, YEAR_DAYS)
    start = dt.datetime.combine(DEFAULT_PERIOD_START, dt.time(0), tzinfo=UTC)
    end = start + dt.timedelta(days=YEAR_DAYS)
    pid = running_api(settings).pid
    api: dict = {}
    with httpx.Client(base_url=settings.api_base_url, timeout=600) as client:
        for fmt in ("arrow", "json"):
            with PeakMemory(pid) as memory:
                started = time.perf_counter()
                size = fetch(client, start, end, fmt)
                seconds = time.perf_counter() - started
            api[fmt] = {
                "seconds": seconds,
                "bytes": size,
                "peak_rss_mb": memory.peak / 1e6,
                "rows_per_s": seeded["rows"] / seconds,
            }
    backfill = timed_backfill(settings, YEAR_DAYS, workers=2)
    last = DEFAULT_PERIOD_START + dt.timedelta(days=YEAR_DAYS - 1)
    kpis = {
        name: statistics.median(
            whole_process(
                [str(Path(sys.executable).parent / "etl"), "kpis", str(DEFAULT_PERIOD_START), str(last), *options],
                PROJECT_ROOT,
            ).seconds
            for _ in range(KPI_REPEATS)
        )
        for name, options in KPI_COMMANDS.items()
    }
    return {"seed": seeded, "api": api, "backfill_2_workers": backfill, "etl_kpis_s": kpis}


def day_rows(day: dict, target: str) -> list[tuple[str, str, str]]:
    steps = ", ".join(f"{k} {v * 1000:.0f}" for k, v in day["library_steps_median_s"].items())
    return [
        (
            f"ETL of a farm day, {day['turbines']} turbines, library",
            f"{day['library_median_s'] * 1000:,.0f} ms",
            f"{target}; {day['source_rows']:,} rows in, {day['target_rows']:,} out; ms: {steps}",
        ),
        ("  shortest path", f"{day['shortest_path_median_s'] * 1000:,.0f} ms", "SQL read, pandas groupby, one COPY"),
        ("  ratio library / shortest", f"{day['ratio_library_to_shortest']:.1f}x", "target <= 3x"),
        *(
            [
                (
                    "  with KPIs / without (kpis=False)",
                    f"{day['ratio_kpis_to_without']:.2f}x",
                    f"target <= 1.3x; without: {day['without_kpis_median_s'] * 1000:,.0f} ms"
                    + (
                        f"; median of paired runs {day['paired_ratio_kpis_to_without']:.2f}x"
                        if "paired_ratio_kpis_to_without" in day
                        else ""
                    ),
                )
            ]
            if "ratio_kpis_to_without" in day
            else []
        ),
    ]


def rows_of(results: dict) -> list[tuple[str, str, str]]:
    day, year = results["farm_day"], results["farm_year"]
    backfill = year["backfill_2_workers"]
    return [
        (
            f"seed {day['turbines']} turbines x 2 days",
            f"{day['seed']['seconds']:.1f} s",
            f"{day['seed']['rows']:,} rows",
        ),
        *day_rows(day, "target <= 3 s"),
        (
            f"seed {YEAR_TURBINES} turbines x {YEAR_DAYS} days",
            f"{year['seed']['seconds']:.1f} s",
            f"{year['seed']['rows']:,} rows, {year['seed']['rows_per_s']:,.0f} rows/s",
        ),
        (
            f"API, the year of {YEAR_TURBINES} turbines, Arrow",
            f"{year['api']['arrow']['seconds']:.1f} s",
            f"peak {year['api']['arrow']['peak_rss_mb']:.0f} MB (target < 250 MB), "
            f"{year['api']['arrow']['rows_per_s']:,.0f} rows/s",
        ),
        (
            f"API, the year of {YEAR_TURBINES} turbines, JSON",
            f"{year['api']['json']['seconds']:.1f} s",
            f"peak {year['api']['json']['peak_rss_mb']:.0f} MB, {year['api']['json']['rows_per_s']:,.0f} rows/s",
        ),
        (
            "backfill of that year, 2 workers",
            f"{backfill['seconds']:.1f} s",
            f"target <= 120 s; {backfill['days_per_second']:.1f} days/s, {backfill['failed']} failed",
        ),
        *(
            (
                f"etl kpis over that year, {name}",
                f"{seconds:.2f} s",
                f"target <= 2 s; a whole process, median of {KPI_REPEATS}",
            )
            for name, seconds in year.get("etl_kpis_s", {}).items()
        ),
    ]
