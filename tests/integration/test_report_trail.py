"""The report trail: a run that cannot write its report fails before any work, a report is written
whole or not at all, a killed run leaves the previous report standing and none of its own, and a
backfill through the notebook counts the days whose data was written apart from the reports that were.
(Every run keeping its own report: test_audit_trail.py.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import nbformat
import pytest

from etl_lib.core.errors import NotebookRunError
from etl_lib.notebook.recorded import read_error
from etl_lib.notebook.runner import run_notebook
from harness import process_faults as faults
from harness.fault_servers import day_rows

DAY = dt.date(2024, 10, 5)
NO_DATA_DAY = dt.date(2024, 12, 5)  # nothing in the source: the notebook fails in its run cell


def _refuses_files(folder: Path) -> bool:
    try:
        (folder / ".probe").touch()
    except OSError:
        return True
    (folder / ".probe").unlink()
    return False


@pytest.fixture(params=["read-only folder", "path under a regular file"])
def unwritable_runs(request, tmp_path):
    """A runs folder that refuses the report for a real reason, also when the tests run as root
    (where chmod does not stop writes): a folder without write permission if that holds, else
    /sys/kernel (sysfs refuses new regular files to everyone, root included); or a path whose
    parent is a regular file (mkdir fails with ENOTDIR for everyone)."""
    if request.param == "path under a regular file":
        (tmp_path / "not-a-folder").write_text("")
        yield tmp_path / "not-a-folder" / "runs", request.param
        return
    folder = tmp_path / "runs"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if _refuses_files(folder):
            yield folder, "chmod 555"
        elif Path("/sys/kernel").is_dir() and _refuses_files(Path("/sys/kernel")):
            yield Path("/sys/kernel"), "sysfs, as root"
        else:
            pytest.skip("no folder here refuses files to this user")
    finally:
        folder.chmod(0o755)


def test_a_run_that_cannot_write_its_report_fails_before_any_work(settings, unwritable_runs):
    folder, why = unwritable_runs
    outcome = faults.run_unwritable_reports(settings, DAY, folder, why)
    assert outcome.error == "ReportWriteError", outcome.message
    assert outcome.target == "unchanged"  # the cleared day stayed empty, and no etl_run row was added
    assert str(folder) in outcome.message and "ETL_RUNS_DIR" in outcome.message
    assert "Nothing was run and nothing was written" in outcome.message


def test_etl_run_says_so_in_one_paragraph_and_exits_non_zero(settings, unwritable_runs):
    folder, _ = unwritable_runs
    done = faults.etl("run", DAY.isoformat(), env={"ETL_RUNS_DIR": str(folder)})
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: The report {folder / f'{DAY}.ipynb'} cannot be written"), done.stderr
    assert "ETL_RUNS_DIR" in done.stderr and done.stderr.count("What to do:") == 1
    assert "Traceback" not in done.stderr


def test_a_killed_run_leaves_the_previous_report_standing_and_none_of_its_own(settings, tmp_path):
    outcome = faults.run_killed(settings, DAY, tmp_path / "runs")
    assert outcome.report == f"{DAY}.ipynb still the previous run's; the killed run left no report"
    assert outcome.target == "unchanged"


def test_a_report_where_the_caller_says_replaces_the_previous_one_whole_and_leaves_nothing_else(settings, tmp_path):
    """A failed cell still gives the report (with the error); the earlier report and its HTML export
    are gone, and no temporary file is left."""
    runs = tmp_path / "runs"
    runs.mkdir()
    report = runs / f"{NO_DATA_DAY}.ipynb"
    report.write_text("an earlier report")
    report.with_suffix(".html").write_text("its export")
    with pytest.raises(NotebookRunError, match=f"no samples for {NO_DATA_DAY}"):
        run_notebook(NO_DATA_DAY, settings, output=report)
    assert sorted(path.name for path in runs.iterdir()) == [report.name]
    assert read_error(report)["ename"] == "NoSourceDataError"


def _notebook(path: Path, *cells: str) -> Path:
    """A notebook with a parameters cell (``date``, ``report_path``) and ``cells``, in the project's kernel."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "wind-etl", "display_name": "Python (wind-etl)", "language": "python"}
    parameters = nbformat.v4.new_code_cell("date = None\nreport_path = None")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, *(nbformat.v4.new_code_cell(cell) for cell in cells)]
    nbformat.write(notebook, str(path))
    return path


RUN_THE_DAY = "from etl_lib.pipeline.run import run_etl\nrun_etl(date, report=report_path)"


def test_backfill_counts_days_written_apart_from_reports_written(settings, target_engine, tmp_path):
    """Each day's notebook writes the day, then its runs folder disappears (removed mid-run), so the
    report cannot be saved: the backfill must say that the data of both days was written."""
    days = [dt.date(2024, 10, 9), dt.date(2024, 10, 10)]
    for day in days:
        faults.clear_day(target_engine, day)
    notebook = _notebook(
        tmp_path / "etl.ipynb", RUN_THE_DAY, "import shutil, pathlib\nshutil.rmtree(pathlib.Path(report_path).parent)"
    )
    env = {"ETL_NOTEBOOK": str(notebook), "ETL_RUNS_DIR": str(tmp_path / "runs")}

    done = faults.etl("backfill", *map(str, days), "--notebooks", env=env)

    assert done.returncode == 1
    assert "0 of 2 day(s) done, 2 failed; data written for 2 day(s), reports for 0" in done.stdout, done.stdout
    for day in days:
        assert f"FAILED {day} (its data was written to the target): The notebook ran, but its report" in done.stderr
        assert len(day_rows(target_engine, day)) > 0
    assert "Traceback" not in done.stderr


def test_a_dead_kernel_is_one_paragraph_and_no_report(settings, tmp_path):
    notebook = _notebook(tmp_path / "etl.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    env = {"ETL_NOTEBOOK": str(notebook), "ETL_RUNS_DIR": str(tmp_path / "runs")}
    done = faults.etl("run", DAY.isoformat(), env=env)
    assert done.returncode == 1
    assert "error: The kernel running etl.ipynb died before the notebook finished" in done.stderr, done.stderr
    assert done.stderr.count("What to do:") == 1 and "Traceback" not in done.stderr
    assert list((tmp_path / "runs").iterdir()) == []  # not even the temporary file
