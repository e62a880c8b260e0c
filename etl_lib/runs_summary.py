"""The overview across all audit reports ``runs/<date>.ipynb``, and their HTML exports.

Everything is read back from the executed notebooks (``audit.read_recorded`` / ``read_error``),
so the summary needs no database and shows failed runs with their error. ``build_report``
executes ``notebooks/runs_summary.ipynb`` with papermill (what ``etl report`` does).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

from .audit import read_error, read_recorded
from .errors import ConfigurationError
from .settings import Settings, get_settings

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


def summarize_runs(runs_dir: Path | str) -> pd.DataFrame:
    """One row per report: date, status, rows read and written, quality per variable, error."""
    rows = []
    for path in report_files(Path(runs_dir)):
        recorded = read_recorded(path)
        error = read_error(path)
        rows.append(
            {
                "date": path.stem,
                # A report without error and without a recorded status stopped early (e.g. killed).
                "status": "failed" if error else recorded.get("status", "unfinished"),
                "rows_read": recorded.get("rows_read"),
                "rows_written": recorded.get("rows_written"),
                **{f"quality {v}": share for v, share in (recorded.get("quality") or {}).items()},
                "error": f"{error['ename']}: {error['evalue']}" if error else "",
                "report": path.name,
            }
        )
    frame = pd.DataFrame(rows, columns=None if rows else ["date", "status", "rows_read", "rows_written"])
    quality = [c for c in frame.columns if c.startswith("quality ")]
    frame = frame.reindex(columns=["date", "status", "rows_read", "rows_written", *quality, "error", "report"])
    return frame.astype({"rows_read": "Int64", "rows_written": "Int64"}).set_index("date")


def records(summary: pd.DataFrame) -> list[dict]:
    """The summary as JSON-friendly rows (missing values as None), for ``audit.record``."""
    frame = summary.reset_index().astype(object)
    return frame.where(frame.notna(), None).to_dict("records")


def runs_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as shown: without the error text (listed apart), quality rounded."""
    return summary.drop(columns=["error", "report"]).round(4)


def failed_runs(summary: pd.DataFrame) -> pd.DataFrame:
    """The failed runs with the first line of their error."""
    failed = summary[summary["status"] != "succeeded"]
    first_lines = failed["error"].fillna("").astype(str).str.split("\n").str[0]
    return failed[["status", "error", "report"]].assign(error=first_lines)


def plot_daily_quality(summary: pd.DataFrame):
    """Daily quality per variable (share of good samples), one marker per run; failed days marked."""
    quality = summary.filter(like="quality ")
    fig, ax = plt.subplots(figsize=(10, 3.6), layout="constrained")
    dates = pd.to_datetime(summary.index)
    for column in quality.columns:
        ax.plot(dates, quality[column], marker="o", label=column.removeprefix("quality ").replace("_", " "))
    for day in dates[(summary["status"] != "succeeded").to_numpy()]:
        ax.axvline(day, color="tab:red", alpha=0.4, lw=6)
    ax.set_ylim(min(0.8, float(quality.min().min()) - 0.02) if quality.notna().any().any() else 0.8, 1.005)
    if len(dates):
        ax.set_xlim(dates.min() - pd.Timedelta(days=1), dates.max() + pd.Timedelta(days=1))
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.set_ylabel("share of good samples")
    ax.set_title("Daily data quality (red: failed runs)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    return fig


def export_html(notebook: Path) -> Path:
    """``<notebook>.html`` beside it, without code cells (``nbconvert --no-input``), for readers without Jupyter."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_filename(str(notebook))
    target = notebook.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


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
    from .notebook_runner import execute

    settings = settings or get_settings()
    runs_dir = Path(runs_dir or settings.runs_dir).resolve()
    template = summary_notebook_path(settings)
    if not template.exists():
        raise ConfigurationError(
            f"The summary notebook {template} does not exist.",
            "Run from a checkout of the project, or set ETL_NOTEBOOK to the ETL notebook beside it.",
        )
    if not report_files(runs_dir):
        raise ConfigurationError(
            f"There are no audit reports (<date>.ipynb) in {runs_dir}.",
            "Run some days first (`etl run 2024-10-01`), or point ETL_RUNS_DIR at the folder that holds them.",
        )
    export_missing_html(runs_dir)
    output = execute(template, runs_dir / f"{SUMMARY_NAME}.ipynb", {"runs_dir": str(runs_dir)})
    export_html(output)
    return output
