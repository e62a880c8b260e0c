"""The overview of the audit trail: the runs whose reports lie in a runs folder, read from the one record
of each run (the target's ``etl_run``), and the reports' HTML exports (``notebook.export``).

Per date, the run that stands: the one whose report is ``<date>.ipynb`` (the date's last succeeded run
of the whole farm; its run key, which papermill keeps in the report, names its record), or the date's
latest run when no run of the whole farm has a report there: its status, turbines, rows, the day's
lowest quality per variable and its error. Every other run of the date with a report in the folder
(a run of named turbines, a failed run: ``<date>.<key>.ipynb``) is listed apart, with its report. A
report that cannot be read (empty, cut short by a full disk, not a notebook) is named and its day
marked unreadable; the others are summarized all the same. Nothing is re-run; of a report only its
JSON is read. ``build_report`` executes ``notebooks/runs_summary.ipynb`` with papermill (what ``etl
report`` does).

A folder is one farm's trail: a source of one farm keeps it in the runs folder, a fleet each farm's in
``runs/<farm>/`` (``trail_folders`` finds them); a summary's KPIs are those of the farms whose runs it lists
(``farms_in``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from ..config.settings import Settings, get_settings
from ..core.contract import MIN_GOOD_SHARE, SOURCE_VARIABLES, RunStatus
from ..core.errors import ConfigurationError, UnreadableReportError
from ..metrics.quality import lowest_share
from ..notebook.export import export_html
from ..notebook.recorded import report_key
from ..storage.engines import target_engine
from ..storage.run_record import read_runs
from . import present

SUMMARY_NAME = "summary"
COLUMNS = ["date", "status", "turbines", "rows_read", "rows_written"]
UNREADABLE = "unreadable"  # the status of a day whose report cannot be read
OTHER_COLUMNS = ["date", "started", "status", "turbines", "error", "report"]
STOPPED = "its report {} was not completed (the run was stopped)"


def runs_in(runs_dir: Path, settings: Settings) -> pd.DataFrame:
    """The recorded runs whose report lies in ``runs_dir``, oldest first, with ``file``: the report's path."""
    runs = read_runs(target_engine(settings))
    folder = Path(runs_dir).resolve()
    files = runs["report"].map(lambda report: Path(report).resolve() if isinstance(report, str) else None)
    inside = files.map(lambda path: path is not None and path.parent == folder)
    return runs[inside.astype(bool)].assign(file=files[inside.astype(bool)])


def trail_folders(runs_dir: Path, settings: Settings) -> dict[Path, list[str]]:
    """The folders with reports the target's run records name, ``runs_dir`` first, then its farm folders
    (``runs/<farm>/``), each with the farms of those runs."""
    runs = read_runs(target_engine(settings))
    folder = Path(runs_dir).resolve()
    found: dict[Path, set[str]] = {}
    for report, farm in zip(runs["report"], runs["farm"]):
        if not isinstance(report, str):
            continue
        parent = Path(report).resolve().parent
        if parent == folder or parent.parent == folder:
            found.setdefault(parent, set()).update([farm] if isinstance(farm, str) else [])
    ordered = sorted(found, key=lambda path: (path != folder, path.name))
    return {path: sorted(found[path]) for path in ordered}


def farms_in(runs_dir: Path | str | None = None, settings: Settings | None = None) -> list[str] | None:
    """The farms of the runs whose reports lie in ``runs_dir`` (a farm's trail: one), None when the records do
    not say (runs from before the fleet)."""
    settings = settings or get_settings()
    runs = runs_in(Path(runs_dir or settings.runs_dir), settings)
    farms = sorted({farm for farm in runs["farm"] if isinstance(farm, str)})
    return farms or None


_identities: dict[tuple, tuple[str | None, str | None]] = {}


def identity(report: Path) -> tuple[str | None, str | None]:
    """``(run key, None)`` of a readable report (the key None when it names none), ``(None, why)`` of an
    unreadable one; read once per version of the file in a process."""
    try:
        stat = report.stat()
    except OSError:
        return None, None
    version = (str(report), stat.st_mtime_ns, stat.st_size)
    if version not in _identities:
        try:
            _identities[version] = (report_key(report), None)
        except UnreadableReportError as exc:
            _identities[version] = (None, str(exc).partition("\n")[0])
    return _identities[version]


def _day_row(run, file: Path | None, error: str = "") -> dict:
    return {
        "date": run["run_date"].isoformat(),
        "status": run["status"],
        "turbines": len(run["turbines"]) if run["turbines"] else None,
        "rows_read": run["rows_read"],
        "rows_written": run["rows_written"],
        **{f"quality {v}": share for v, share in lowest_share(run["quality"]).items()},
        "error": error
        or run["error"]
        or (f"the report is not the run's: {run['report_error']}" if run["report_error"] else ""),
        "report": file.name if file is not None else "",
    }


def _trail(runs_dir: Path, settings: Settings) -> tuple[list[dict], list[dict]]:
    """Per date the row of the run that stands, and the rows of the other runs (see the module's docstring)."""
    runs = runs_in(runs_dir, settings)
    folder = Path(runs_dir).resolve()
    days, others = [], []
    for run_date, group in runs.groupby("run_date", sort=True):
        standing_file = folder / f"{run_date.isoformat()}.ipynb"
        key, unreadable = identity(standing_file)
        naming = group[group["file"] == standing_file]
        standing = None
        if standing_file.exists() and not unreadable and len(naming):
            made = naming[naming["key"] == key] if key else naming.iloc[[-1]]
            standing = made.iloc[-1] if len(made) else None
        for _, run in group.iterrows():
            if standing is not None and run["id"] == standing["id"]:
                continue
            if run["file"] == standing_file:
                if unreadable or (standing is not None and run["started_at"] < standing["started_at"]):
                    continue  # made the unreadable report, or had its report replaced by a later run's
                if standing is None and run["id"] != naming.iloc[-1]["id"]:
                    continue
                others.append(_other_row(run, None, STOPPED.format(standing_file.name)))
                continue
            _, problem = identity(run["file"])
            if not run["file"].exists():
                others.append(_other_row(run, None, STOPPED.format(run["file"].name)))
            elif problem:
                others.append(_other_row(run, None, problem, status=UNREADABLE))
            else:
                others.append(_other_row(run, run["file"]))
        if unreadable:
            days.append({"date": run_date.isoformat(), "status": UNREADABLE, "error": unreadable, "report": ""})
        elif standing is not None:
            days.append(_day_row(standing, standing_file))
        else:  # no report of the whole farm: the date's latest run stands in, and leaves the other runs' list
            latest = others.pop()
            run = group[group["id"] == latest.pop("id")].iloc[-1]
            days.append(_day_row(run, Path(latest["report"]) if latest["report"] else None, latest["error"]))
    for row in others:
        row.pop("id")
    return days, others


def _other_row(run, file: Path | None, error: str = "", status: str | None = None) -> dict:
    turbines = list(run["turbines"] or [])
    return {
        "id": run["id"],
        "date": run["run_date"].isoformat(),
        "started": run["started_at"].strftime("%Y-%m-%d %H:%M:%S UTC"),
        "status": status or run["status"],
        "turbines": ", ".join(turbines) if len(turbines) <= 6 else f"{len(turbines)} turbines",
        "error": error
        or run["error"]
        or (f"the report is not the run's: {run['report_error']}" if run["report_error"] else ""),
        "report": str(file) if file is not None else "",
    }


def summarize_runs(runs_dir: Path | str | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """One row per date with a run whose report lies in ``runs_dir`` (default: the settings' runs folder):
    the run that stands (see the module's docstring): status (``unreadable`` when its report cannot be
    read), turbines, rows read and written, per variable the lowest quality of the day's turbines, its
    error (or why its report is not the run's, or why it cannot be read), the report's file name, and how
    many ``other runs`` of the date have reports there (``other_runs``)."""
    settings = settings or get_settings()
    days, others = _trail(Path(runs_dir or settings.runs_dir), settings)
    for row in days:
        row["report"] = Path(row["report"]).name if row["report"] else ""
        row["other runs"] = sum(other["date"] == row["date"] for other in others)
    frame = pd.DataFrame(days, columns=None if days else COLUMNS)
    quality = [c for c in frame.columns if c.startswith("quality ")]
    known = [f"quality {variable}" for variable in SOURCE_VARIABLES]  # the variables in their usual order
    quality = [c for c in known if c in quality] + [c for c in quality if c not in known]
    frame = frame.reindex(columns=[*COLUMNS, *quality, "error", "report", "other runs"])
    frame["error"] = frame["error"].astype(object).fillna("")
    frame["other runs"] = frame["other runs"].fillna(0)
    types = {"turbines": "Int64", "rows_read": "Int64", "rows_written": "Int64", "other runs": "Int64"}
    return frame.astype(types).set_index("date")


def other_runs(runs_dir: Path | str | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """Every run with a report in ``runs_dir`` that does not stand for its date (a run of named turbines,
    a failed run, an earlier failed or partial one), oldest first: when it started, its status, turbines,
    error, and its report's file name (empty when it has none: stopped, or unreadable, which ``error``
    says)."""
    settings = settings or get_settings()
    _, others = _trail(Path(runs_dir or settings.runs_dir), settings)
    frame = pd.DataFrame(others, columns=OTHER_COLUMNS)
    frame["report"] = frame["report"].map(lambda report: Path(report).name if report else "")
    return frame.set_index("date")


def overview(summary: pd.DataFrame, others: pd.DataFrame | None = None) -> pd.DataFrame:
    """How many days have reports, how many of the runs that stand succeeded, failed (or stopped
    unfinished) and have unreadable reports, and how many other runs there are."""
    succeeded = int((summary["status"] == RunStatus.SUCCEEDED).sum())
    unreadable = int((summary["status"] == UNREADABLE).sum())
    counts = {
        "days with reports": len(summary),
        "succeeded": succeeded,
        "failed or unfinished": len(summary) - succeeded - unreadable,
        "unreadable report": unreadable,
    }
    if others is not None:
        counts["other runs (listed below)"] = len(others)
    return pd.DataFrame({"runs": counts})


def records(summary: pd.DataFrame) -> list[dict]:
    """The summary as JSON-friendly rows (missing values as None), for ``recorded.record``."""
    frame = summary.reset_index().astype(object)
    return frame.where(frame.notna(), None).to_dict("records")


def _quality_columns(summary: pd.DataFrame) -> list[str]:
    return [column for column in summary.columns if column.startswith("quality ")]


def _stem(name: str) -> str | None:
    return Path(name).stem if name else None


def runs_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as shown: each day's report linked as its HTML (``<report>.html`` beside the summary),
    quality in %, days below ``MIN_GOOD_SHARE`` highlighted; the error text is listed apart."""
    table = summary.drop(columns=["error"]).assign(report=summary["report"].map(_stem))
    shares = _quality_columns(table)
    return present.table(
        table,
        percent=shares,
        warn_below=dict.fromkeys(shares, MIN_GOOD_SHARE),
        links={"report": "{}.html"},
        empty="There are no reports yet.",
        caption="Per day the run that stands. Quality: per variable, the lowest share of good samples of the day's "
        "turbines",
    )


def failed_runs(summary: pd.DataFrame) -> pd.DataFrame:
    """The days whose run failed or whose report is unreadable, with the first line of the error, each
    linked to its report's HTML."""
    failed = summary[summary["status"] != RunStatus.SUCCEEDED]
    first_lines = failed["error"].fillna("").astype(str).str.split("\n").str[0]
    table = failed[["status", "error", "report"]].assign(error=first_lines, report=failed["report"].map(_stem))
    return present.table(table, links={"report": "{}.html"}, empty="No run failed.")


def others_table(others: pd.DataFrame) -> pd.DataFrame:
    """The other runs as shown: the first line of their error, each report linked as its HTML."""
    first_lines = others["error"].fillna("").astype(str).str.split("\n").str[0]
    table = others.assign(error=first_lines, report=others["report"].map(_stem))
    return present.table(
        table,
        links={"report": "{}.html"},
        empty="No other runs: every report is the one that stands for its day.",
        caption="Runs that do not stand for their day: runs of named turbines, failed runs (their own reports)",
    )


def daily_quality_figure(summary: pd.DataFrame) -> Figure:
    """Daily quality per variable (share of good samples), one marker per day, on a % axis that shows the
    difference, with the quality check's threshold; failed days marked in red, days whose report is
    unreadable in grey. The date axis spans the days with reports."""
    shares = summary[_quality_columns(summary)].rename(columns=lambda c: c.removeprefix("quality "))
    fig, ax = present.daily_shares_figure(shares, "Daily data quality (red: failed runs)")
    for status, colour, label in (
        (None, "tab:red", "failed run"),
        (UNREADABLE, "tab:gray", "unreadable report"),
    ):
        which = (
            summary["status"] == UNREADABLE if status else ~summary["status"].isin([RunStatus.SUCCEEDED, UNREADABLE])
        )
        for i, day in enumerate(pd.to_datetime(summary.index[which.to_numpy()]).tz_localize("UTC")):
            ax.axvspan(day, day + pd.Timedelta(days=1), color=colour, alpha=0.2, lw=0, label=label if i == 0 else None)
    present.legend_outside(ax)
    return fig


def export_missing_html(runs_dir: Path, *tables: pd.DataFrame) -> tuple[list[Path], dict[str, str]]:
    """Export the reports the tables name whose HTML is missing or older than the notebook; the exported
    files, and per report that could not be exported, why (a report that is not the notebook it seems)."""
    exported, failed = [], {}
    for table in tables:
        for name in filter(None, table["report"]):
            path = Path(runs_dir) / name
            html = path.with_suffix(".html")
            if path.exists() and (not html.exists() or html.stat().st_mtime < path.stat().st_mtime):
                try:
                    exported.append(export_html(path))
                except Exception as exc:  # the report, not etl report, is broken: named, and the rest goes on
                    failed[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return exported, failed


def summary_notebook_path(settings: Settings) -> Path:
    return settings.notebook_path.parent / "runs_summary.ipynb"


def build_report(settings: Settings | None = None, runs_dir: Path | None = None) -> tuple[Path, dict[str, str]]:
    """Execute ``notebooks/runs_summary.ipynb`` over ``runs_dir`` into ``<runs_dir>/summary.ipynb``
    and ``summary.html``, after exporting each report's HTML; return the summary notebook's path, and
    the reports whose HTML could not be made with why."""
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
    _, failed = export_missing_html(runs_dir, summary, other_runs(runs_dir, settings))
    output = execute(template, runs_dir / f"{SUMMARY_NAME}.ipynb", {"runs_dir": str(runs_dir)})
    export_html(output)
    return output, failed
