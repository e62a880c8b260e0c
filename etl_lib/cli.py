"""The ``etl`` command: the embedded stack, seeding, and runs. Thin: every step is an etl_lib call."""

from __future__ import annotations

import datetime as dt
import json
import sys
import traceback
from typing import Annotated

import typer

from . import generator
from .errors import EtlError

app = typer.Typer(
    help="Wind-turbine ETL: embedded stack, source seeding and audited runs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
stack_app = typer.Typer(help="The embedded PostgreSQL server and the API process.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")

_state = {"verbose": False}


@app.callback()
def _options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["verbose"] = verbose


def _settings():
    from .settings import get_settings

    return get_settings()


def _echo_status(status, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(
            {
                "source_database_url": status.source_database_url,
                "target_database_url": status.target_database_url,
                "api_url": status.api_url,
                "database_running": status.database_running,
                "api_running": status.api_running,
                "stack_dir": status.stack_dir,
            },
            indent=2,
        ))  # fmt: skip
        return
    up = {True: "running", False: "stopped"}
    typer.echo(f"database : {up[status.database_running]}  ({status.stack_dir})")
    typer.echo(f"api      : {up[status.api_running]}  {status.api_url}" + (f"  pid {status.api_pid}" if status.api_pid else ""))
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


@app.command()
def init() -> None:
    """Create the source table and the target schema with its signals on the configured databases."""
    from .db import engine_for
    from .source_db import prepare_source
    from .target_schema import create_target_schema

    settings = _settings()
    prepare_source(engine_for(settings.source_url))
    create_target_schema(engine_for(settings.target_url))
    typer.echo("source table and target schema are ready")


@app.command()
def seed(
    start: Annotated[str, typer.Option(help="First UTC day to generate.")] = generator.DEFAULT_START.isoformat(),
    days: Annotated[int, typer.Option(min=1, max=3660, help="How many days to generate.")] = generator.DEFAULT_DAYS,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = generator.DEFAULT_SEED,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing if the source has rows.")] = False,
    clean: Annotated[bool, typer.Option("--clean", help="Leave out the documented faults (see README, Data quality).")] = False,
) -> None:
    """Fill the source with seeded synthetic data (COPY); re-seeding replaces the period, never duplicates.

    The default data carries a few documented faults (gap, nulls, spikes, stuck sensor, out-of-range
    burst, curtailment) so the quality checks have something to show; --clean makes data without them."""
    from .db import engine_for
    from .source_db import seed_source

    try:
        first_day = dt.date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(f"{start!r} is not a date like 2024-10-01", param_hint="--start") from None
    result = seed_source(
        engine_for(_settings().source_url), first_day, days, seed, if_empty=if_empty, **({"faults": ()} if clean else {})
    )
    if result.skipped:
        typer.echo("source already has data; left as it is (run `etl seed` without --if-empty to regenerate)")
    else:
        typer.echo(
            f"seeded {result.rows_written} rows: {days} day(s) from {first_day.isoformat()}"
            + (" (clean: no injected faults)" if clean else "")
        )


@app.command()
def run(
    date: Annotated[str, typer.Argument(help="UTC day to process, YYYY-MM-DD.")],
    report: Annotated[bool, typer.Option(help="Execute the notebook into runs/DATE.ipynb (--no-report: library only).")] = True,
) -> None:
    """Run the ETL for one date; by default through the notebook, leaving runs/DATE.ipynb as the audit report."""
    settings = _settings()
    if report:
        from .audit import read_recorded, summary_line
        from .notebook_runner import run_notebook

        path = run_notebook(date, settings)
        typer.echo(summary_line(read_recorded(path)))
        typer.echo(f"report: {path}")
    else:
        from .pipeline import run_etl

        typer.echo(json.dumps(run_etl(date, settings).summary()))


@app.command()
def backfill(
    start: Annotated[str, typer.Argument(help="First UTC day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Argument(help="Last UTC day, YYYY-MM-DD (included).")],
    workers: Annotated[int, typer.Option(min=1, max=64, help="Days run side by side, each worker its own process.")] = 1,
    notebooks: Annotated[bool, typer.Option("--notebooks", help="Run each day through the notebook: runs/DATE.ipynb.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run every day from START to END; a failed day does not stop the others. Exit 1 if any failed."""
    from .backfill import date_range, run_backfill

    result = run_backfill(date_range(start, end), _settings(), workers=workers, notebooks=notebooks)
    summary = result.summary()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(
            f"backfill {start} to {end}: {summary['succeeded']} of {summary['days']} day(s) done, "
            f"{summary['failed']} failed, in {summary['seconds']:.1f} s ({summary['days_per_second']:.1f} days/s, "
            f"{result.workers} worker(s))"
        )
        for failure in result.failures:
            typer.echo(f"FAILED {failure.run_date.isoformat()}: {failure.error}", err=True)
    if not result.ok:
        raise typer.Exit(code=1)


@app.command("report")
def report_command(
    runs_dir: Annotated[str | None, typer.Option(help="Folder of the audit reports (default: ETL_RUNS_DIR or runs/).")] = None,
) -> None:
    """Summarize every runs/DATE.ipynb (status, rows, quality; failed runs with their error) into
    runs/summary.ipynb and .html, and export each report to runs/DATE.html without code cells."""
    from pathlib import Path

    from .runs_summary import build_report, failed_runs, runs_table, summarize_runs

    settings = _settings()
    folder = Path(runs_dir) if runs_dir else settings.runs_dir
    output = build_report(settings, folder)
    summary = summarize_runs(folder)
    typer.echo(runs_table(summary).to_string())
    failed = failed_runs(summary)
    for day, row in failed.iterrows():
        typer.echo(f"FAILED {day}: {row['error']}", err=True)
    typer.echo(f"summary: {output} and {output.with_suffix('.html')}")


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


def main() -> None:
    try:
        app()
    except EtlError as exc:
        if _state["verbose"]:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
