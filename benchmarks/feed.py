"""The live feed's speed for `make bench`: a 100-turbine farm fed as fast as it goes (`etl feed --speed max`), as
whole processes as the user runs them, with the default link schedule (outages, late batches, corrections).

Two lengths of feed, so the start-up (interpreter, imports, reading the source, generating the simulation) and
the sustained rate come apart: the rows per second the feed sustains are the extra rows of the longer feed over
its extra seconds. Nothing here asserts; the figures are read against docs/live.md.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from etl_lib.config.settings import PROJECT_ROOT, Settings

from .measure import seed, whole_process

TURBINES = 100
SHORT, LONG = 30, 300  # simulated minutes per feed
ETL = str(Path(sys.executable).parent / "etl")
DONE = re.compile(r"done: (\d+) minute\(s\) fed, (\d+) rows appended")


def feed_once(minutes: int) -> tuple[float, int]:
    """Seconds and rows of one `etl feed --speed max --minutes N` (resuming where the source ends)."""
    process = whole_process([ETL, "feed", "--speed", "max", "--minutes", str(minutes)], PROJECT_ROOT)
    found = DONE.search(process.stdout)
    if found is None:
        raise RuntimeError(f"etl feed said no total: {process.stdout[-2000:]}")
    return process.seconds, int(found.group(2))


def bench_feed(settings: Settings) -> dict:
    """Reseed the source as one farm of ``TURBINES`` over a day, then feed it: a short and a long feed."""
    seeded = seed(settings, TURBINES, 1)
    short_s, short_rows = feed_once(SHORT)
    long_s, long_rows = feed_once(LONG)
    sustained = (long_rows - short_rows) / (long_s - short_s)
    return {
        "turbines": TURBINES,
        "seed_rows": seeded["rows"],
        "short": {"minutes": SHORT, "seconds": short_s, "rows": short_rows},
        "long": {"minutes": LONG, "seconds": long_s, "rows": long_rows},
        "rows_per_s": sustained,
        "minutes_per_s": sustained / TURBINES,
        "startup_s": short_s - short_rows / sustained,
    }


def rows_of(results: dict) -> list[tuple[str, str, str]]:
    f = results.get("feed")
    if not f:
        return []
    return [
        (
            f"etl feed --speed max, {f['turbines']} turbines",
            f"{f['rows_per_s']:,.0f} rows/s",
            f"sustained: {f['minutes_per_s']:.1f} simulated minutes per second "
            f"({f['minutes_per_s'] * 60:,.0f}x real time), one transaction per minute",
        ),
        (
            "  of it: start-up of the process",
            f"{f['startup_s']:.1f} s",
            f"{f['short']['minutes']} minutes in {f['short']['seconds']:.1f} s, "
            f"{f['long']['minutes']} in {f['long']['seconds']:.1f} s (whole processes)",
        ),
    ]
