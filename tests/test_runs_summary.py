"""Audit reports through papermill, their HTML exports, and `etl report` over a folder of runs."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete

from etl_lib.audit import read_recorded
from etl_lib.notebook_runner import NotebookRunError, run_notebook
from etl_lib.run_record import read_runs
from etl_lib.target_schema import etl_run

GOOD_DAY = dt.date(2024, 10, 6)  # seeded with an out-of-range burst and a curtailment
FAILING_DAY = dt.date(2024, 12, 4)  # nothing in the source


@pytest.fixture(scope="module")
def runs(settings, target_engine, tmp_path_factory) -> Path:
    """A runs folder with one succeeded and one failed report, and `etl report` run over it."""
    folder = tmp_path_factory.mktemp("runs")
    before = set(read_runs(target_engine, FAILING_DAY)["id"])
    run_notebook(GOOD_DAY, settings, output=folder / f"{GOOD_DAY}.ipynb", parameters={"thresholds": {"power_max_factor": 2.0}})
    with pytest.raises(NotebookRunError, match="no samples for 2024-12-04"):
        run_notebook(FAILING_DAY, settings, output=folder / f"{FAILING_DAY}.ipynb")
    try:
        completed = subprocess.run(
            [str(Path(sys.executable).parent / "etl"), "report", "--runs-dir", str(folder)],
            capture_output=True, text=True, env=os.environ.copy(), timeout=300,
        )  # fmt: skip
        yield folder, completed
    finally:
        added = [int(i) for i in read_runs(target_engine, FAILING_DAY)["id"] if i not in before]
        with target_engine.begin() as conn:
            conn.execute(delete(etl_run).where(etl_run.c.id.in_(added)))


def test_report_records_quality_and_flag_counts_with_the_thresholds_it_was_given(runs):
    folder, _ = runs
    recorded = read_recorded(folder / f"{GOOD_DAY}.ipynb")
    assert recorded["status"] == "succeeded" and recorded["date"] == GOOD_DAY.isoformat()
    assert recorded["rows_read"] == 1440
    # 3,276.7 kW is inside 2 x rated, so the range check (overridden) stays silent; the spike check still sees it.
    assert recorded["flag_counts"]["range"]["power"] == 0
    assert recorded["flag_counts"]["spike"]["power"] == 4
    assert recorded["flag_counts"]["power_curve"]["power"] == 90
    assert recorded["quality"] == {"wind_speed": 1.0, "power": round(1346 / 1440, 6), "ambient_temperature": 1.0}


def test_run_record_points_at_the_report_for_succeeded_and_failed_runs(runs, target_engine):
    folder, _ = runs
    good = read_runs(target_engine, GOOD_DAY).iloc[-1]
    assert good["status"] == "succeeded" and good["report"] == str(folder / f"{GOOD_DAY}.ipynb")
    assert good["thresholds"]["power_max_factor"] == 2.0
    failed = read_runs(target_engine, FAILING_DAY)
    failed = failed[failed["report"] == str(folder / f"{FAILING_DAY}.ipynb")]
    assert failed["status"].tolist() == ["failed"]


def test_every_report_has_an_html_export_without_code(runs):
    folder, _ = runs
    for day in (GOOD_DAY, FAILING_DAY):
        html = (folder / f"{day}.html").read_text()
        assert "hl-ipython3" not in html and "jp-OutputArea" in html  # outputs only, no highlighted code cells
    good = (folder / f"{GOOD_DAY}.html").read_text()
    assert "run_etl(date" not in good
    assert "power_curve" in good and "Measured power curve" in good
    assert "no samples for 2024-12-04" in (folder / f"{FAILING_DAY}.html").read_text()


def test_etl_report_lists_every_run_failed_ones_too(runs):
    folder, completed = runs
    assert completed.returncode == 0, completed.stderr
    assert f"FAILED {FAILING_DAY}: NoSourceDataError" in completed.stderr
    summary = read_recorded(folder / "summary.ipynb")["runs"]
    assert [(row["date"], row["status"]) for row in summary] == [
        (GOOD_DAY.isoformat(), "succeeded"),
        (FAILING_DAY.isoformat(), "failed"),
    ]
    assert summary[0]["rows_read"] == 1440 and summary[0]["quality power"] == round(1346 / 1440, 6)
    assert "no samples for 2024-12-04" in summary[1]["error"] and summary[1]["rows_read"] is None
    html = (folder / "summary.html").read_text()
    assert "summarize_runs" not in html and "Failed runs" in html and "NoSourceDataError" in html
