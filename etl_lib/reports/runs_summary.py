"""The overview across all audit reports ``runs/<date>.ipynb``, and their HTML exports (``export``).

Everything is read back from the executed notebooks (``recorded.read_run``: what they recorded, their error),
so the summary needs no database and shows failed runs with their error. ``build_report``
executes ``notebooks/runs_summary.ipynb`` with papermill (what ``etl report`` does).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from ..config.settings import Settings, get_settings
from ..core.contract import MIN_GOOD_SHARE, SOURCE_VARIABLES, RunStatus
from ..core.errors import ConfigurationError
from . import present
from .export import export_html
from .recorded import read_run

SUMMARY_NAME = "summary"


def report_files(runs_dir: Path) -> list[Path]:
    """The audit reports in ``runs_dir``: files named ``<YYYY-MM-DD>.ipynb``, by date."""
    reports = []
    for path in Path(runs_dir).glob("*.ipynb"):
        try:
            dt.date.fromisoformat(path.stem)
        except ValueError:
            continue
        reports.append(path)
    return sorted(reports)


def lowest_quality(quality: dict | None) -> dict[str, float]:
    """Per variable, the lowest share of good samples of the day's turbines (``{turbine: {variable:
    share}}``, as a farm's run records it); a report from before the farm (``{variable: share}``) as it is."""
    quality = quality or {}
    if not all(isinstance(shares, dict) for shares in quality.values()):
        return dict(quality)
    lowest: dict[str, float] = {}
    for shares in quality.values():
        for variable, share in shares.items():
            lowest[variable] = min(lowest.get(variable, 1.0), share)
    return lowest


def summarize_runs(runs_dir: Path | str | None = None) -> pd.DataFrame:
    """One row per report in ``runs_dir`` (default: the settings' runs folder): date, status, turbines,
    rows read and written, per variable the lowest quality of the day's turbines, error."""
    runs_dir = runs_dir or get_settings().runs_dir
    rows = []
    for path in report_files(Path(runs_dir)):
        recorded, error = read_run(path)
        rows.append(
            {
                "date": path.stem,
                # A report without error and without a recorded status stopped early (e.g. killed).
                "status": RunStatus.FAILED.value if error else recorded.get("status", "unfinished"),
                "turbines": len(recorded["turbines"]) if recorded.get("turbines") else None,
                "rows_read": recorded.get("rows_read"),
                "rows_written": recorded.get("rows_written"),
                **{f"quality {v}": share for v, share in lowest_quality(recorded.get("quality")).items()},
                "error": f"{error['ename']}: {error['evalue']}" if error else "",
                "report": path.name,
            }
        )
    frame = pd.DataFrame(rows, columns=None if rows else ["date", "status", "turbines", "rows_read", "rows_written"])
    quality = [c for c in frame.columns if c.startswith("quality ")]
    known = [f"quality {variable}" for variable in SOURCE_VARIABLES]  # the variables in their usual order
    quality = [c for c in known if c in quality] + [c for c in quality if c not in known]
    frame = frame.reindex(
        columns=["date", "status", "turbines", "rows_read", "rows_written", *quality, "error", "report"]
    )
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


def export_missing_html(runs_dir: Path) -> list[Path]:
    """Export every report whose HTML is missing or older than the notebook."""
    exported = []
    for path in report_files(runs_dir):
        html = path.with_suffix(".html")
        if not html.exists() or html.stat().st_mtime < path.stat().st_mtime:
            exported.append(export_html(path))
    return exported


def summary_notebook_path(settings: Settings) -> Path:
    return settings.notebook_path.parent / "runs_summary.ipynb"


def build_report(settings: Settings | None = None, runs_dir: Path | None = None) -> Path:
    """Execute ``notebooks/runs_summary.ipynb`` over ``runs_dir`` into ``<runs_dir>/summary.ipynb``
    and ``summary.html``, after exporting each report's HTML; return the summary notebook's path."""
    from .notebooks import execute

    settings = settings or get_settings()
    runs_dir = Path(runs_dir or settings.runs_dir).resolve()
    template = summary_notebook_path(settings)
    if not template.exists():
        raise ConfigurationError(
            f"The summary notebook {template} does not exist.",
            "Run from a checkout of the project, or set ETL_NOTEBOOK to the ETL notebook beside it.",
            setting="ETL_NOTEBOOK",
        )
    if not report_files(runs_dir):
        raise ConfigurationError(
            f"There are no audit reports (<date>.ipynb) in {runs_dir}.",
            "Run some days first (`etl run 2024-10-01`), or point ETL_RUNS_DIR at the folder that holds them.",
            setting="ETL_RUNS_DIR",
        )
    export_missing_html(runs_dir)
    output = execute(template, runs_dir / f"{SUMMARY_NAME}.ipynb", {"runs_dir": str(runs_dir)})
    export_html(output)
    return output
