"""The overview of the audit trail: the runs whose reports lie in a runs folder, read from the one record
of each run (the target's ``etl_run``), and the reports' HTML exports (``notebook.export``).

Per date, the latest run with a report in the folder: its status, turbines, rows, the day's lowest quality
per variable and its error; the failed ones listed with their error. Nothing is re-run and no report is
parsed. ``build_report`` executes ``notebooks/runs_summary.ipynb`` with papermill (what ``etl report``
does).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from ..config.settings import Settings, get_settings
from ..core.contract import MIN_GOOD_SHARE, SOURCE_VARIABLES, RunStatus
from ..core.errors import ConfigurationError
from ..metrics.quality import lowest_share
from ..notebook.export import export_html
from ..storage.engines import target_engine
from ..storage.run_record import read_runs
from . import present

SUMMARY_NAME = "summary"
COLUMNS = ["date", "status", "turbines", "rows_read", "rows_written"]


def runs_in(runs_dir: Path, settings: Settings) -> pd.DataFrame:
    """The recorded runs whose report lies in ``runs_dir``, oldest first, with ``file``: the report's path."""
    runs = read_runs(target_engine(settings))
    folder = Path(runs_dir).resolve()
    files = runs["report"].map(lambda report: Path(report).resolve() if isinstance(report, str) else None)
    inside = files.map(lambda path: path is not None and path.parent == folder)
    return runs[inside.astype(bool)].assign(file=files[inside.astype(bool)])


def summarize_runs(runs_dir: Path | str | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """One row per date with a run whose report lies in ``runs_dir`` (default: the settings' runs folder),
    the latest such run: status, turbines, rows read and written, per variable the lowest quality of the
    day's turbines, its error (or why its report is not the run's), and the report's file name."""
    settings = settings or get_settings()
    runs = runs_in(Path(runs_dir or settings.runs_dir), settings)
    rows = []
    for _, run in runs.groupby("run_date", sort=True):
        last = run.iloc[-1]
        kept = last["file"].exists()
        error = (
            last["error"]
            or (f"the report is not the run's: {last['report_error']}" if last["report_error"] else "")
            or ("" if kept else f"its report {last['file'].name} was not completed (the run was stopped)")
        )
        rows.append(
            {
                "date": last["run_date"].isoformat(),
                "status": last["status"],
                "turbines": len(last["turbines"]) if last["turbines"] else None,
                "rows_read": last["rows_read"],
                "rows_written": last["rows_written"],
                **{f"quality {v}": share for v, share in lowest_share(last["quality"]).items()},
                "error": error or "",
                "report": last["file"].name if kept else "",
            }
        )
    frame = pd.DataFrame(rows, columns=None if rows else COLUMNS)
    quality = [c for c in frame.columns if c.startswith("quality ")]
    known = [f"quality {variable}" for variable in SOURCE_VARIABLES]  # the variables in their usual order
    quality = [c for c in known if c in quality] + [c for c in quality if c not in known]
    frame = frame.reindex(columns=[*COLUMNS, *quality, "error", "report"])
    return frame.astype({"turbines": "Int64", "rows_read": "Int64", "rows_written": "Int64"}).set_index("date")


def overview(summary: pd.DataFrame) -> pd.DataFrame:
    """How many runs there are, and how many succeeded and failed (or stopped unfinished)."""
    succeeded = int((summary["status"] == RunStatus.SUCCEEDED).sum())
    return pd.DataFrame(
        {"runs": {"reports": len(summary), "succeeded": succeeded, "failed or unfinished": len(summary) - succeeded}}
    )


def records(summary: pd.DataFrame) -> list[dict]:
    """The summary as JSON-friendly rows (missing values as None), for ``recorded.record``."""
    frame = summary.reset_index().astype(object)
    return frame.where(frame.notna(), None).to_dict("records")


def _quality_columns(summary: pd.DataFrame) -> list[str]:
    return [column for column in summary.columns if column.startswith("quality ")]


def runs_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as shown: each date linked to its report's HTML (``<date>.html`` beside the summary),
    quality in %, days below ``MIN_GOOD_SHARE`` highlighted; the error text is listed apart."""
    table = summary.drop(columns=["error", "report"])
    shares = _quality_columns(table)
    return present.table(
        table,
        percent=shares,
        warn_below=dict.fromkeys(shares, MIN_GOOD_SHARE),
        links={"date": "{}.html"},
        empty="There are no reports yet.",
        caption="Quality: per variable, the lowest share of good samples of the day's turbines",
    )


def failed_runs(summary: pd.DataFrame) -> pd.DataFrame:
    """The failed runs with the first line of their error, each date linked to its report's HTML."""
    failed = summary[summary["status"] != RunStatus.SUCCEEDED]
    first_lines = failed["error"].fillna("").astype(str).str.split("\n").str[0]
    table = failed[["status", "error", "report"]].assign(error=first_lines)
    return present.table(table, links={"date": "{}.html"}, empty="No run failed.")


def daily_quality_figure(summary: pd.DataFrame) -> Figure:
    """Daily quality per variable (share of good samples), one marker per run, on a % axis that shows the
    difference, with the quality check's threshold; failed days marked in red."""
    shares = summary[_quality_columns(summary)].rename(columns=lambda c: c.removeprefix("quality "))
    fig, ax = present.daily_shares_figure(shares, "Daily data quality (red: failed runs)")
    failed = pd.to_datetime(summary.index[(summary["status"] != RunStatus.SUCCEEDED).to_numpy()]).tz_localize("UTC")
    for i, day in enumerate(failed):
        ax.axvspan(
            day, day + pd.Timedelta(days=1), color="tab:red", alpha=0.2, lw=0, label="failed run" if i == 0 else None
        )
    present.legend_outside(ax)
    return fig


def export_missing_html(runs_dir: Path, summary: pd.DataFrame) -> list[Path]:
    """Export the summary's reports whose HTML is missing or older than the notebook."""
    exported = []
    for name in filter(None, summary["report"]):
        path = Path(runs_dir) / name
        html = path.with_suffix(".html")
        if path.exists() and (not html.exists() or html.stat().st_mtime < path.stat().st_mtime):
            exported.append(export_html(path))
    return exported


def summary_notebook_path(settings: Settings) -> Path:
    return settings.notebook_path.parent / "runs_summary.ipynb"


def build_report(settings: Settings | None = None, runs_dir: Path | None = None) -> Path:
    """Execute ``notebooks/runs_summary.ipynb`` over ``runs_dir`` into ``<runs_dir>/summary.ipynb``
    and ``summary.html``, after exporting each report's HTML; return the summary notebook's path."""
    from ..notebook.runner import execute

    settings = settings or get_settings()
    runs_dir = Path(runs_dir or settings.runs_dir).resolve()
    template = summary_notebook_path(settings)
    if not template.exists():
        raise ConfigurationError(
            f"The summary notebook {template} does not exist.",
            "Run from a checkout of the project, or set ETL_NOTEBOOK to the ETL notebook beside it.",
            setting="ETL_NOTEBOOK",
        )
    summary = summarize_runs(runs_dir, settings)
    if summary.empty:
        raise ConfigurationError(
            f"The target's run records name no audit report in {runs_dir}.",
            "Run some days first (`etl run 2024-10-01`), or point ETL_RUNS_DIR at the folder that holds them.",
            setting="ETL_RUNS_DIR",
        )
    export_missing_html(runs_dir, summary)
    output = execute(template, runs_dir / f"{SUMMARY_NAME}.ipynb", {"runs_dir": str(runs_dir)})
    export_html(output)
    return output
