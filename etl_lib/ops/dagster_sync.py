"""Dagster told of the days the command line ran (``etl run``, ``etl backfill``), when an instance is
configured (``DAGSTER_HOME``): see ``orchestration.runless``. Without one, Dagster is not imported.

A day's data is written whether or not Dagster can be told, so a failure to tell it is a warning
naming the instance and the days, never the run's failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..config.settings import Settings
from ..core.contract import RunStatus
from ..core.errors import clean_message


def tell_dagster(
    settings: Settings, runs: Iterable[tuple[dict | None, Path | None, bool]], via: str
) -> tuple[int, str | None]:
    """Report each ``(record, report, whole_farm)`` to Dagster's instance in ``settings.dagster_home``;
    return how many events were reported and a warning when the instance could not be told (None when
    all went well, or when no instance is configured). A report's HTML export is made first when missing,
    so the event links it as a materialization by Dagster does."""
    home = settings.dagster_home
    runs = [
        (record, report, whole) for record, report, whole in runs if record and record["status"] == RunStatus.SUCCEEDED
    ]
    if home is None or not runs:
        return 0, None
    days = ", ".join(sorted({record["run_date"].isoformat() for record, _, _ in runs}))
    if not home.is_dir():
        return 0, (
            f"warning: DAGSTER_HOME={home} is not a folder, so Dagster was not told of {days}. What to do: "
            "create it (`make dagster-home`) or unset DAGSTER_HOME; the data is written either way."
        )
    try:
        from ..notebook.export import export_html
        from ..orchestration.runless import RunOutcome, report_runs

        for _, report, _ in runs:
            if report is not None and report.exists() and not report.with_suffix(".html").exists():
                export_html(report)
        return report_runs(home, [RunOutcome(*run) for run in runs], via), None
    except Exception as exc:  # the data is written; Dagster's copy of the news is what failed
        reason = clean_message(f"{type(exc).__name__}: {exc}").splitlines()[0]
        return 0, (
            f"warning: Dagster's instance in DAGSTER_HOME={home} could not be told of {days}: {reason}. "
            "What to do: check that folder (`dagster instance info`), then run the day again to report it; "
            "the data is written either way."
        )
