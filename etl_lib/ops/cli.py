"""The ``etl`` command: the embedded stack, seeding, and runs. Thin: every step is an etl_lib call."""

from __future__ import annotations

import atexit
import datetime as dt
import json
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..core.contract import (
    DEFAULT_FARMS,
    DEFAULT_MODELS,
    DEFAULT_PERIOD_DAYS,
    DEFAULT_PERIOD_START,
    DEFAULT_SEED,
    DEFAULT_TURBINES,
    FEED_CORRECT_AFTER,
    FEED_CORRECT_EVERY,
    FEED_CORRECT_MINUTES,
    FEED_LATE_EVERY,
    FEED_LATE_MINUTES,
)
from ..core.dates import MAX_RANGE_DAYS
from ..core.errors import DatabaseError, clean_message
from .failures import as_etl_error

app = typer.Typer(
    help="Wind-turbine ETL: embedded stack, source seeding and audited runs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
)
stack_app = typer.Typer(help="The embedded PostgreSQL server and the API process.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
dagster_app = typer.Typer(
    help="Dagster for production: its instance on PostgreSQL, workers on the broker, backfills through them.",
    no_args_is_help=True,
)
app.add_typer(dagster_app, name="dagster")

_state = {"verbose": False}


@app.callback()
def _options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["verbose"] = verbose


def _settings():
    from ..config.settings import get_settings

    return get_settings()


@contextmanager
def _database(name: str) -> Iterator[None]:
    """Inside: an error of the database ``name`` ("source" or "target") becomes one that names it."""
    try:
        yield
    except Exception as exc:
        error = as_etl_error(exc, name)
        if error is exc or not isinstance(error, DatabaseError):
            raise
        raise error from exc


def _echo_status(status, as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "source_database_url": status.source_database_url,
                    "target_database_url": status.target_database_url,
                    "api_url": status.api_url,
                    "database_running": status.database_running,
                    "api_running": status.api_running,
                    "stack_dir": status.stack_dir,
                },
                indent=2,
            )
        )
        return
    up = {True: "running", False: "stopped"}
    typer.echo(f"database : {up[status.database_running]}  ({status.stack_dir})")
    typer.echo(
        f"api      : {up[status.api_running]}  {status.api_url}" + (f"  pid {status.api_pid}" if status.api_pid else "")
    )
    typer.echo(f"source   : {status.source_database_url}")
    typer.echo(f"target   : {status.target_database_url}")


@stack_app.command("up")
def stack_up(as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False) -> None:
    """Start the embedded PostgreSQL server and the API (no-op for parts already running)."""
    from .stack import stack_up as up

    _echo_status(up(_settings()), as_json)


@stack_app.command("down")
def stack_down() -> None:
    """Stop the API and the embedded PostgreSQL server."""
    from .stack import stack_down as down

    _echo_status(down(_settings()), False)


@stack_app.command("status")
def stack_status(as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False) -> None:
    """Which parts run, and the URLs to reach them (usable as given by SQLAlchemy and httpx)."""
    from .stack import stack_status as status

    _echo_status(status(_settings()), as_json)


@dagster_app.command("init")
def dagster_init() -> None:
    """Write DAGSTER_HOME/dagster.yaml from the settings (storage in PostgreSQL, the queued run coordinator, run
    retries) and set the concurrency pools' limits; the storage database is created if missing (on the embedded
    server, started if needed, unless ETL_DAGSTER_DATABASE_URL names another). Run again after changing them."""
    from .dagster_home import init_instance

    result = init_instance(_settings())
    typer.echo(f"{result.home / 'dagster.yaml'}: storage {result.storage}")
    typer.echo("pools: " + ", ".join(f"{pool} {limit}" for pool, limit in result.pools.items()))


@dagster_app.command("worker")
def dagster_worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Steps this worker runs at once (its pool processes).")] = 1,
    name: Annotated[str | None, typer.Option(help="The worker's name (NAME@host); default: Celery's.")] = None,
) -> None:
    """A worker that executes the steps Dagster's runs hand out over the broker (ETL_CELERY_BROKER_URL): Celery
    with dagster-celery's task, in the foreground. Start as many as the machines allow, anywhere that reaches the
    broker, the API, the target and Dagster's storage."""
    from .dagster_home import worker_command

    command = worker_command(_settings(), concurrency=concurrency, name=name)
    os.execv(command[0], command)


@dagster_app.command("fleet")
def dagster_fleet(
    workers: Annotated[int, typer.Option(min=1, max=64, help="Celery workers to start.")] = 2,
    port: Annotated[int, typer.Option(help="The webserver's port (0: no webserver).")] = 3000,
    host: Annotated[str, typer.Option(help="The webserver's host.")] = "127.0.0.1",
) -> None:
    """Dagster on PostgreSQL storage with workers on the broker, in one command: the embedded stack (unless the
    environment names the databases), `etl dagster init`, WORKERS workers, the daemon and the webserver, until
    Ctrl-C stops them all. The steps of every run go to the workers (ETL_DAGSTER_EXECUTOR=celery)."""
    from .fleet import run_fleet

    code = run_fleet(_settings(), workers, (host, port) if port else None, typer.echo)
    raise typer.Exit(code=code)


@dagster_app.command("backfill")
def dagster_backfill(
    start: Annotated[str, typer.Argument(help="First UTC day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Argument(help="Last UTC day, YYYY-MM-DD (included).")],
    report: Annotated[
        bool, typer.Option("--report", help="Execute the audit notebook for each day (default: the library alone).")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the backfill to its end; exit 1 if it failed.")] = False,
    timeout: Annotated[float, typer.Option(help="With --wait: give up after this many seconds.")] = 3600.0,
    farm: Annotated[str | None, typer.Option(help="Only this farm's days (default: every farm's).")] = None,
) -> None:
    """Queue a backfill of daily_statistics from START to END in Dagster's instance (DAGSTER_HOME), of every farm (or
    the one named), a farm's days grouped into runs (ETL_DAGSTER_DAYS_PER_RUN); the daemon (`etl dagster fleet`)
    launches them onto the workers."""
    from dagster import DagsterInstance

    from ..core.dates import parse_run_date
    from ..orchestration.backfills import queue_backfill, wait_backfill
    from ..orchestration.definitions import build_defs
    from .dagster_home import dagster_home

    settings = _settings()
    first, last = parse_run_date(start), parse_run_date(end)
    home = dagster_home(settings)
    if not (home / "dagster.yaml").exists():
        from ..core.errors import ConfigurationError

        raise ConfigurationError(
            f"{home} holds no dagster.yaml: Dagster's instance is not set up there.",
            "Run `etl dagster init` (or start `etl dagster fleet`) with the same DAGSTER_HOME first.",
            setting="DAGSTER_HOME",
        )
    with DagsterInstance.from_config(str(home)) as instance:
        backfill_id, keys = queue_backfill(instance, build_defs(settings), first, last, report=report, farm=farm)
        typer.echo(f"backfill {backfill_id}: {len(keys)} partition(s) queued, {settings.dagster_days_per_run} per run")
        if not wait:
            return
        outcome = wait_backfill(instance, backfill_id, keys, timeout)
    typer.echo(
        f"backfill {backfill_id}: {outcome.status}, {len(outcome.materialized)} of {len(keys)} partition(s) "
        f"materialized by {outcome.runs} run(s) ({outcome.failed_runs} failed attempt(s)) in {outcome.seconds:.1f} s"
    )
    if not outcome.ok:
        raise typer.Exit(code=1)


@app.command()
def init() -> None:
    """Bring the source and the target schema to the current version (Alembic migrations, in place) on the
    configured databases, and let the API's role read the source."""
    from ..storage.engines import engine_for, target_engine
    from ..storage.migrations import current_revision
    from ..storage.source import prepare_source
    from ..storage.target import ensure_target_schema

    settings = _settings()
    source, target = engine_for(settings.source_url), target_engine(settings)
    with _database("source"):
        prepare_source(source)
    with _database("target"):
        ensure_target_schema(target)
    typer.echo(
        f"source schema at revision {current_revision(source)} and target schema at revision "
        f"{current_revision(target)}: ready"
    )


@app.command()
def seed(
    start: Annotated[str, typer.Option(help="First UTC day to generate.")] = DEFAULT_PERIOD_START.isoformat(),
    days: Annotated[
        int, typer.Option(min=1, max=MAX_RANGE_DAYS, help="How many days to generate.")
    ] = DEFAULT_PERIOD_DAYS,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = DEFAULT_SEED,
    farms: Annotated[
        int,
        typer.Option(min=1, max=99, help="How many farms the fleet has (WF01, WF02, …), each with its own weather."),
    ] = DEFAULT_FARMS,
    turbines: Annotated[
        int, typer.Option(min=1, max=999, help="How many turbines each farm has (numbered across the fleet).")
    ] = DEFAULT_TURBINES,
    models: Annotated[
        str,
        typer.Option(
            help="Turbine models, comma-separated, in equal groups over the turbines: catalogue names "
            "(V90/2000, E-82/2000, MM92/2050, V80/2000, N90/2500) or paths of CSV power curves."
        ),
    ] = ",".join(DEFAULT_MODELS),
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing if the source has rows.")] = False,
    clean: Annotated[bool, typer.Option("--clean", help="Leave out the documented faults (docs/quality.md).")] = False,
) -> None:
    """Make the source a generated fleet over a period (COPY): exactly those farms and that period, never duplicated.

    The default is one farm (WF01) of four turbines; `--farms 3 --turbines 20` makes three farms of twenty,
    each at its own site in its own weather, the turbines numbered across the fleet (WT01 to WT60).

    Seeding replaces the whole source in one transaction (so `--days 10` after `--days 366`, or `--turbines 4`
    after `--turbines 20`, shrinks it again). The default data carries a few documented faults (gap, nulls,
    spikes, stuck sensor, out-of-range burst, curtailment), each on a named turbine of the first farm, so the
    quality checks have something to show; --clean makes data without them."""
    from ..simulation.seed import seed_source
    from ..storage.engines import engine_for

    try:
        first_day = dt.date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(f"{start!r} is not a date like 2024-10-01", param_hint="--start") from None
    chosen = [name.strip() for name in models.split(",") if name.strip()]
    with _database("source"):
        result = seed_source(
            engine_for(_settings().source_url),
            first_day,
            days,
            seed,
            farms=farms,
            turbines=turbines,
            models=chosen,
            if_empty=if_empty,
            **({"faults": ()} if clean else {}),
        )
    if result.skipped:
        typer.echo("source already has data; left as it is (run `etl seed` without --if-empty to regenerate)")
    else:
        fleet = f"{farms} farms of " if farms > 1 else ""
        typer.echo(
            f"seeded {result.rows_written} rows: {fleet}{turbines} turbine(s) of {', '.join(chosen)}, {days} day(s) "
            f"from {first_day.isoformat()}" + (" (clean: no injected faults)" if clean else "")
        )


def _minute(value: str | None, option: str) -> dt.datetime | None:
    """An ISO instant of ``option`` as an aware UTC datetime (no zone: UTC); ``now``: the current minute."""
    if value is None:
        return None
    if value == "now":
        return dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an instant like 2024-10-11T00:00Z", param_hint=option) from None
    return instant.replace(tzinfo=dt.UTC) if instant.tzinfo is None else instant.astimezone(dt.UTC)


@app.command()
def feed(
    speed: Annotated[
        str,
        typer.Option(
            help="Simulated minutes per real minute: 1 is real time, 60 an hour a minute; `max`: as fast as the "
            "database takes them."
        ),
    ] = "1",
    start: Annotated[
        str | None,
        typer.Option(
            help="First minute to feed (UTC, e.g. 2024-10-11T00:00Z, or `now`); default: where the source ends."
        ),
    ] = None,
    until: Annotated[str | None, typer.Option(help="Stop before this minute (UTC).")] = None,
    minutes: Annotated[int | None, typer.Option(min=1, help="Stop after feeding this many minutes.")] = None,
    farm: Annotated[str | None, typer.Option(help="Feed only this farm's turbines (default: every farm).")] = None,
    seed: Annotated[int, typer.Option(help="The simulator's seed: give the one `etl seed` used.")] = DEFAULT_SEED,
    clean: Annotated[
        bool, typer.Option("--clean", help="Without the documented faults (as `etl seed --clean`).")
    ] = False,
    late_every: Annotated[
        int,
        typer.Option(min=0, help="Minutes between two link outages (one turbine's rows then arrive late); 0: none."),
    ] = FEED_LATE_EVERY,
    late_minutes: Annotated[int, typer.Option(min=1, help="How long an outage lasts, minutes.")] = FEED_LATE_MINUTES,
    correct_every: Annotated[
        int, typer.Option(min=0, help="Minutes between two corrections (values re-sent corrected); 0: none.")
    ] = FEED_CORRECT_EVERY,
    correct_minutes: Annotated[
        int, typer.Option(min=1, help="How many minutes of one turbine a correction re-sends.")
    ] = FEED_CORRECT_MINUTES,
    correct_after: Annotated[
        int, typer.Option(min=0, help="Minutes after the last wrong one that the corrected values come.")
    ] = FEED_CORRECT_AFTER,
) -> None:
    """Append each minute's samples of every turbine to the source as the minute ends, with late rows and
    corrections; Ctrl-C or SIGTERM stops after a whole minute, and the next `etl feed` resumes where the source ends.

    The samples continue the seeded simulation: after `etl seed --days 2`, `etl feed --minutes 60 --speed max`
    writes the first hour of day 3 of a longer seed, late rows and corrections aside (docs/live.md).

    Never raises the source's version: appending and correcting are ordinary changes."""
    import signal
    import threading

    from ..simulation.feed import FeedOptions, run_feed
    from ..storage.engines import engine_for

    if speed == "max":
        pace = None
    else:
        try:
            pace = float(speed)
        except ValueError:
            raise typer.BadParameter(f"{speed!r} is not a number or max", param_hint="--speed") from None
        if not (pace > 0 and pace < float("inf")):
            raise typer.BadParameter(f"{speed!r} is not a positive speed", param_hint="--speed")
    options = FeedOptions(
        start=_minute(start, "--start"),
        until=_minute(until, "--until"),
        minutes=minutes,
        speed=pace,
        farm=farm,
        seed=seed,
        clean=clean,
        schedule={
            "late_every": late_every,
            "late_minutes": late_minutes,
            "correct_every": correct_every,
            "correct_minutes": correct_minutes,
            "correct_after": correct_after,
        },
    )
    stop = threading.Event()

    def stopping(signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGINT, stopping)
    signal.signal(signal.SIGTERM, stopping)
    with _database("source"):
        result = run_feed(engine_for(_settings().source_url), options, stop=stop, echo=lambda line: typer.echo(line))
    totals = result.totals
    typer.echo(
        f"{'stopped' if result.stopped else 'done'}: {totals.minutes} minute(s) fed, {totals.rows} rows appended "
        f"({totals.late_rows} late in {totals.late_batches} batch(es)), {totals.corrected_rows} rows corrected; "
        f"next minute {result.next:%Y-%m-%d %H:%M} UTC (where etl feed resumes)"
    )


@app.command()
def run(
    date: Annotated[str, typer.Argument(help="UTC day to process, YYYY-MM-DD.")],
    report: Annotated[
        bool,
        typer.Option(help="Execute the notebook into the audit trail in runs/ (--no-report: library only)."),
    ] = True,
    turbines: Annotated[
        str | None, typer.Option(help="Only these turbines, comma-separated (default: the whole farm).")
    ] = None,
    turbine: Annotated[
        list[str] | None,
        typer.Option(
            "--turbine",
            help="Only this turbine, by its exact name (a comma or spaces in it kept); repeat for several.",
        ),
    ] = None,
    farm: Annotated[
        str | None,
        typer.Option(help="The farm whose day to run (default: the source's only farm; a fleet needs it)."),
    ] = None,
) -> None:
    """Run the ETL for one date of a farm; by default through the notebook, whose executed copy is the run's audit
    report.

    A run is one farm's day: `--farm NAME` names it, and may be left out when the source has one farm; with
    several it is an error that lists them.

    A succeeded run of the whole farm leaves runs/DATE.ipynb (runs/FARM/DATE.ipynb when the source holds
    several farms); any other run (`--turbines`, a failed run) keeps its own report beside it,
    DATE.KEY.ipynb (KEY: the run's key in etl_run), and never replaces DATE.ipynb.

    Before anything runs, the farm must exist, the source must have samples of its day and the report's folder
    must accept the report. Exit 0 exactly when the run's record says it succeeded with its report complete.

    While the run waits (the API unreachable: each retry; another run of the farm's date writing it: whose), it
    says so at once: on stderr, and once the notebook runs, in the report's output."""
    from ..core.dates import parse_run_date

    settings = _settings()
    day = parse_run_date(date)
    names = None if turbines is None else [name.strip() for name in turbines.split(",")]
    if turbine:
        names = [*(names or []), *turbine]
    from ..pipeline import notices

    notices.show()  # a retry or a wait is said at once on stderr (the notebook's own, in its output)
    if report:
        from ..core.errors import KernelDiedError, NotebookRunError, ReportWriteError
        from ..notebook.runner import run_notebook, run_ok
        from ..pipeline.coverage import day_without_data
        from ..pipeline.extract import RetryPolicy, make_client, resolve_farm

        retry = RetryPolicy.from_settings(settings)
        with make_client(settings) as client:  # no such farm, or a day without data: refused in a second, no kernel
            site, farms = resolve_farm(client, farm, retry=retry)
            fleet = len(farms) > 1
            missing = day_without_data(client, day, retry, farm=site.name if fleet else None)
        if missing is not None:
            raise missing
        try:
            done = run_notebook(
                day,
                settings,
                parameters=None if names is None else {"turbines": names},
                farm=site.name if (fleet or farm is not None) else None,
                fleet=fleet,
            )
        except (NotebookRunError, KernelDiedError, ReportWriteError) as exc:
            record = getattr(exc, "record", None)
            if record:  # what the record says, beside the error
                typer.echo(summary_line(record))
                kept = exc.report if isinstance(exc, NotebookRunError) else None
                _tell_dagster(settings, record, kept, names is None)
            raise
        typer.echo(summary_line(done.record or {}))
        typer.echo(f"report: {done.report}")
        _tell_dagster(settings, done.record, done.report, names is None)
        if not run_ok(done.record):
            from ..core.errors import EtlError

            raise EtlError(
                f"The notebook {done.report} ran without an error, but the run's record "
                + (
                    "could not be read"
                    if not done.record
                    else f"(etl_run {done.record['id']}) does not say it succeeded"
                )
                + ".",
                "Check that notebooks/etl.ipynb still passes run_key and report_path to run_etl, and the line above.",
            )
    else:
        from ..pipeline.run import run_etl
        from ..storage.engines import target_engine
        from ..storage.run_record import read_run

        with _database("target"):
            result = run_etl(day, settings, farm=farm, turbines=names)
            typer.echo(json.dumps(result.summary()))
            if settings.dagster_home is not None:
                _tell_dagster(settings, read_run(target_engine(settings), result.key), None, names is None)


def _tell_dagster(settings, record: dict | None, report, whole_farm: bool) -> None:
    """Dagster told of the run, when ``DAGSTER_HOME`` is set; a warning on stderr if it cannot be."""
    from .dagster_sync import tell_dagster

    _, warning = tell_dagster(settings, [(record, report, whole_farm)], "etl run")
    if warning:
        typer.echo(warning, err=True)


@app.command()
def backfill(
    start: Annotated[str, typer.Argument(help="First UTC day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Argument(help="Last UTC day, YYYY-MM-DD (included).")],
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Days run side by side, each worker its own process.")
    ] = 1,
    notebooks: Annotated[
        bool, typer.Option("--notebooks", help="Run each day through the notebook: runs/DATE.ipynb.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help=f"Allow a range of more than {MAX_RANGE_DAYS:,} days.")
    ] = False,
    farm: Annotated[
        str | None, typer.Option(help="Only this farm (default: every farm of the source, one run per farm-day).")
    ] = None,
) -> None:
    """Run every day from START to END, of every farm (or the one named): one run per farm-day; a failed day
    does not stop the others. A day the source (or the farm) has no samples of is skipped (not run, no
    report). Exit 1 if any day failed, else 0.

    Each day's retries and waits are said on stderr as they happen.

    With --notebooks the summary also says for how many days the data and the report were written:
    a day whose data was written but whose report was not counts as written, and as failed."""
    from .backfill import date_range, run_backfill

    result = run_backfill(
        date_range(start, end, force=force),
        _settings(),
        workers=workers,
        notebooks=notebooks,
        notices=True,
        farm=farm,
    )
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2))
    else:
        typer.echo(result.summary_line(start, end))
        for line in result.skipped_lines():
            typer.echo(line, err=True)
        for failure in result.failures:
            written = " (its data was written to the target)" if failure.data_written else ""
            typer.echo(f"FAILED {failure.label}{written}: {failure.error}", err=True)
    if result.dagster_warning:
        typer.echo(result.dagster_warning.strip(), err=True)
    if not result.ok:
        raise typer.Exit(code=1)


@app.command("sync")
def sync(
    first: Annotated[
        str | None, typer.Option("--from", help="First UTC day, YYYY-MM-DD (default: the source's first).")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last UTC day, YYYY-MM-DD, included (default: the source's last).")
    ] = None,
    farm: Annotated[str | None, typer.Option(help="Only this farm (default: every farm of the source).")] = None,
    watch_seconds: Annotated[
        float | None,
        typer.Option(
            "--watch", min=0.1, help="Sync again every SECONDS until Ctrl-C (SIGINT) or SIGTERM.", metavar="SECONDS"
        ),
    ] = None,
) -> None:
    """Run exactly the farm-days whose source changed since the target's runs read them: new days, late,
    changed or deleted rows, and today's part not over yet (up to its last complete 10-minute bucket).

    Each runs as a whole farm-day, saying why ("2024-10-04 WF01: 12 rows late for WT02"); nothing changed
    says "nothing to do". Exit 1 if a day failed (without --watch).

    It compares the source's fingerprints (GET /fingerprints) with those each farm-day's newest succeeded
    run recorded, and reads no sample to decide.

    With --watch it keeps doing so, each round headed by its time (UTC), until Ctrl-C or SIGTERM, which end
    it after the round under way. It is safe beside other runs (each farm-day's lock) and restarts (the
    target's run records are its only state)."""
    from ..core.dates import parse_run_date
    from .sync import sync_once, watch

    start = None if first is None else parse_run_date(first)
    end = None if last is None else parse_run_date(last) + dt.timedelta(days=1)
    settings = _settings()
    if watch_seconds is not None:
        watch(watch_seconds, settings, start, end, farm, say=typer.echo)
        return
    result = sync_once(settings, start, end, farm, say=typer.echo)
    if not result.ok:
        raise typer.Exit(code=1)


@app.command("report")
def report_command(
    runs_dir: Annotated[
        str | None, typer.Option(help="Folder of the audit reports (default: ETL_RUNS_DIR or runs/).")
    ] = None,
    farm: Annotated[
        str | None,
        typer.Option(help="Only this farm's reports (default: every farm's: runs/, and runs/FARM/ in a fleet)."),
    ] = None,
) -> None:
    """Summarize the runs whose reports are in runs/, read from the target's run records, into
    runs/summary.ipynb and .html, exporting each report to HTML without code cells. A fleet's farms keep their
    reports in runs/FARM/: each such folder gets its own summary (runs/FARM/summary.ipynb), with its farm's KPIs.

    Per day the run that stands (DATE.ipynb, the last succeeded run of the whole farm; else the day's
    latest run): status, rows, quality, the error of a failed one. The other runs (DATE.KEY.ipynb) are
    listed apart.

    A report that cannot be read (empty, cut short, not a notebook) is named and its day marked unreadable;
    the rest is summarized all the same."""
    from pathlib import Path

    from ..core.errors import ConfigurationError
    from ..reports.runs_summary import trail_folders

    settings = _settings()
    folder = Path(runs_dir) if runs_dir else settings.runs_dir
    with _database("target"):
        folders = trail_folders(folder, settings)
    if farm is not None:
        chosen = [path for path, farms in folders.items() if farm in farms]
        if not chosen:
            known = sorted({name for farms in folders.values() for name in farms})
            raise ConfigurationError(
                f"The target's run records name no report of farm {farm[:64]!r} in {folder} or its farm folders.",
                f"Pick from the farms with reports there: {', '.join(known) or '(none yet)'}; or run its days first "
                f"(`etl run DATE --farm {farm[:64]}`).",
                setting="farm",
            )
        folders = {path: folders[path] for path in chosen}
    for path, farms in (folders or {folder: []}).items():
        if len(folders) > 1:
            typer.echo(f"{', '.join(farms) or 'runs'} ({path}):")
        _summarize_folder(settings, path)


def _summarize_folder(settings, folder) -> None:
    """``etl report`` of one folder of reports: the summary notebook, and its tables on the terminal."""
    from ..reports.present import text
    from ..reports.runs_summary import (
        UNREADABLE,
        build_report,
        failed_runs,
        other_runs,
        others_table,
        runs_table,
        summarize_runs,
    )

    output, not_exported = build_report(settings, folder)
    summary, others = summarize_runs(folder, settings), other_runs(folder, settings)
    typer.echo(text(runs_table(summary)))
    if len(others):
        typer.echo(text(others_table(others)))
    for day, row in failed_runs(summary).iterrows():
        typer.echo(f"{'UNREADABLE' if row['status'] == UNREADABLE else 'FAILED'} {day}: {row['error']}", err=True)
    for day, row in others[others["status"] == UNREADABLE].iterrows():
        typer.echo(f"UNREADABLE {day} (another run): {row['error']}", err=True)
    for name, reason in not_exported.items():
        typer.echo(f"UNREADABLE {name}: its HTML export failed ({reason}); the other reports are exported", err=True)
    typer.echo(f"summary: {output} and {output.with_suffix('.html')}")


class Period(StrEnum):
    day = "day"
    month = "month"


class KpiFormat(StrEnum):
    table = "table"
    csv = "csv"
    parquet = "parquet"


@app.command("kpis")
def kpis_command(
    start: Annotated[str, typer.Argument(help="First UTC day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Argument(help="Last UTC day, YYYY-MM-DD (included).")],
    by: Annotated[Period, typer.Option(help="One row per turbine (or farm) and day, or month.")] = Period.day,
    total: Annotated[
        bool,
        typer.Option(
            "--total",
            help="Each farm's totals instead of a row per turbine, and the fleet's when several farms are shown "
            "(this was --farm before the fleet).",
        ),
    ] = False,
    farm: Annotated[str | None, typer.Option(help="Only this farm (default: every farm of the target).")] = None,
    output_format: Annotated[
        KpiFormat, typer.Option("--format", help="A table to read, or CSV or Parquet for other tools.")
    ] = KpiFormat.table,
    out: Annotated[str | None, typer.Option(help="Write to this file instead of the terminal.")] = None,
) -> None:
    """What the farms did from START to END, from the target: energy, potential energy, lost production per group,
    time-based availability (user's and manufacturer's view), production-based availability, capacity factor and
    data availability, per turbine or (`--total`) for each farm and the fleet, by day or month; of every farm, or
    of the one `--farm` names.

    Periods add the days' energies and minutes and recompute every ratio from the sums, never an average of daily
    ratios; `days` says how many days of the period the target holds. The figures are defined in docs/kpis.md."""
    from ..core.dates import parse_run_date
    from ..core.errors import InvalidDateError, QueryError
    from ..metrics.kpis import as_text, period_kpis
    from ..storage.query import check_farms, read_kpis

    first, last = parse_run_date(start), parse_run_date(end)
    if first > last:
        raise InvalidDateError(
            f"The range {first.isoformat()} to {last.isoformat()} is empty: START is after END.",
            f"Give the earlier date first, e.g. etl kpis {last.isoformat()} {first.isoformat()}.",
            value=(start, end),
        )
    if output_format == KpiFormat.parquet and not out:
        raise typer.BadParameter("Parquet is binary: give --out FILE.parquet as well.", param_hint="--format")
    with _database("target"):
        farms = None if farm is None else check_farms(farm, _settings())  # an unknown farm: the known ones listed
        rows = read_kpis(first, last, _settings(), farms=farms)
    if rows.empty:
        named = "" if farm is None else f" --farm {farm}"
        raise QueryError(
            f"The target holds no KPIs for {first.isoformat()} to {last.isoformat()}"
            + ("" if farm is None else f" of farm {farm}")
            + ".",
            f"Run the ETL for those days first: etl backfill {first.isoformat()} {last.isoformat()}{named}.",
        )
    table = period_kpis(rows, by.value, total=total)
    if output_format == KpiFormat.parquet:
        table.to_parquet(out, index=False)
    else:
        text = table.to_csv(index=False) if output_format == KpiFormat.csv else as_text(table)
        if out:
            Path(out).write_text(text, encoding="utf-8")
        else:
            typer.echo(text, nl=output_format != KpiFormat.csv)
    if out:
        typer.echo(f"{len(table)} row(s) written to {out}", err=True)


@app.command("check")
def check_command(
    file: Annotated[
        str,
        typer.Argument(
            help="A SCADA export, CSV or Parquet: columns turbine, timestamp, wind_speed, "
            "power and optionally ambient_temperature, one row per turbine and time."
        ),
    ],
    models: Annotated[
        str | None,
        typer.Option(
            help="Each turbine's model: a catalogue name or a curve table (CSV wind_speed,power) for all, or a CSV file "
            "turbine,model (a catalogue name or a curve table per turbine; * for the others)."
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            help="The file's names for our columns, e.g. 'timestamp=Date and time,wind_speed=Wind speed (m/s)'."
        ),
    ] = None,
    thresholds: Annotated[
        str | None,
        typer.Option(help="Threshold overrides, e.g. 'frozen_wind_speed=20,band_fraction=0.2' (docs/quality.md)."),
    ] = None,
    period: Annotated[str | None, typer.Option(help="Sample period, e.g. 10min (default: detected).")] = None,
    out: Annotated[str | None, typer.Option(help="Write every sample's flags to this .parquet or .csv file.")] = None,
    events: Annotated[
        str | None,
        typer.Option(
            help="The turbines' status log, CSV or Parquet: turbine,start,end and category (or code, with --codes); "
            "each minute's category for the KPIs. Without it the categories are inferred from the samples."
        ),
    ] = None,
    codes: Annotated[
        str | None, typer.Option(help="How the status log's codes map to categories: a CSV file code,category.")
    ] = None,
    fit: Annotated[
        bool,
        typer.Option(
            help="Correct each model's curve by the turbine's own history in the file "
            "(method of bins); --no-fit: the models' curves alone."
        ),
    ] = True,
) -> None:
    """Check a SCADA export with the ETL's quality checks: a table of flagged samples per turbine and check.

    Exit 0 when the file was checked, whatever it found; non-zero only for input it cannot read."""
    from ..pipeline.check_file import check_file

    typer.echo(
        check_file(
            file,
            models,
            columns=columns,
            thresholds=thresholds,
            period=period,
            fit=fit,
            out=out,
            events=events,
            codes=codes,
        ).report()
    )


@app.command()
def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False) -> None:
    """Check configuration, databases and API for real, and say plainly which part is down (exit 1 if any)."""
    from .doctor import diagnose, down_parts, report

    checks = diagnose()
    if as_json:
        typer.echo(json.dumps({"down": down_parts(checks), "checks": [c.as_dict() for c in checks]}, indent=2))
    else:
        typer.echo(report(checks))
    if down_parts(checks):
        raise typer.Exit(code=1)


def summary_line(record: dict) -> str:
    """One line a person reads after a run, from its record (``etl_run``): e.g. ``2024-10-06 succeeded: 4
    turbine(s) of farm WF01, 5760 samples read, 576 buckets, 6912 rows written; lowest quality wind_speed 100.0%,
    power 93.8% (WT03), ambient_temperature 100.0%``."""
    from ..core.contract import SOURCE_VARIABLES, RunStatus

    turbines = record.get("turbines") or []
    day = record.get("run_date")
    farm = f" of farm {record['farm']}" if record.get("farm") else ""
    if record.get("status") == RunStatus.FAILED:
        return (
            f"{day.isoformat() if day else '?'} failed ({', '.join(turbines) or 'the farm'}{farm}): nothing of the "
            f"day was written (etl_run {record.get('id', '?')})"
            + (f"; report: {record['report']}" if record.get("report") else "")
        )
    line = (
        f"{day.isoformat() if day else '?'} {record.get('status', '?')}: {len(turbines)} turbine(s){farm}, "
        f"{record.get('rows_read', '?')} samples read, {record.get('buckets', '?')} buckets, "
        f"{record.get('rows_written', '?')} rows written"
    )
    quality = record.get("quality") or {}  # {turbine: {variable: share}}
    found = {v for shares in quality.values() for v in shares}
    variables = [v for v in SOURCE_VARIABLES if v in found] + sorted(found - set(SOURCE_VARIABLES))
    if variables:
        worst = {v: min(quality, key=lambda turbine, v=v: quality[turbine].get(v, 1.0)) for v in variables}
        shown = [
            f"{v} {quality[worst[v]][v]:.1%}" + (f" ({worst[v]})" if quality[worst[v]][v] < 1 else "")
            for v in variables
        ]
        line += "; lowest quality " + ", ".join(shown)
    if record.get("report_error"):
        line += f"; the report is not the run's: {record['report_error']}"
    return line


def main() -> None:
    """``etl``: every error a user can cause ends as ``error: <message>`` (problem, then what to do) and
    a non-zero exit; a traceback only with --verbose. Foreign errors (database, file system, a bug)
    are mapped to the project's (``failures.as_etl_error``); no SQL text, parameters or passwords."""
    try:
        app()
        code = 0
    except SystemExit as stop:  # typer ends every command so, with the command's exit code
        code = stop.code
    except Exception as exc:
        error = as_etl_error(exc)
        if _state["verbose"]:
            traceback.print_exc()
        print(f"error: {clean_message(str(error))}", file=sys.stderr)
        code = error.exit_code
    _exit(code)


def _exit(code: int | str | None) -> None:
    """End the process as ``sys.exit(code)`` would, without the interpreter's teardown of every module
    and object (about a tenth of a second after a run that imported pandas and SQLAlchemy): the exit
    handlers run, the standard streams are flushed, and nothing else of ours needs the teardown (files
    are written in ``with`` blocks)."""
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code or 0)
