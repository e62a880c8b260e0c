"""Audit reports through papermill, the run records that name them, their HTML exports, and `etl report`
over a folder of runs (read from the records)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from sqlalchemy import delete

from etl_lib.metrics.kpis import period_kpis
from etl_lib.notebook.recorded import read_recorded
from etl_lib.notebook.runner import NotebookRunError, run_notebook
from etl_lib.reports import kpis, present
from etl_lib.reports import runs_summary as rs
from etl_lib.storage.run_record import read_runs
from etl_lib.storage.target import etl_run

GOOD_DAY = dt.date(2024, 10, 6)  # seeded with WT01's out-of-range burst and WT03's derating
FAILING_DAY = dt.date(2024, 12, 4)  # nothing in the source


@pytest.fixture(scope="module")
def runs(settings, target_engine, tmp_path_factory) -> Path:
    """A runs folder with one succeeded and one failed report, and `etl report` run over it."""
    folder = tmp_path_factory.mktemp("runs")
    before = set(read_runs(target_engine, FAILING_DAY)["id"])
    run_notebook(
        GOOD_DAY, settings, output=folder / f"{GOOD_DAY}.ipynb", parameters={"thresholds": {"power_max_factor": 2.0}}
    )
    with pytest.raises(NotebookRunError, match="no samples for 2024-12-04"):
        run_notebook(FAILING_DAY, settings, output=folder / f"{FAILING_DAY}.ipynb")
    try:
        completed = subprocess.run(
            [str(Path(sys.executable).parent / "etl"), "report", "--runs-dir", str(folder)],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            timeout=300,
        )
        yield folder, completed
    finally:
        added = [int(i) for i in read_runs(target_engine, FAILING_DAY)["id"] if i not in before]
        with target_engine.begin() as conn:
            conn.execute(delete(etl_run).where(etl_run.c.id.in_(added)))


def test_the_run_record_keeps_quality_and_flag_counts_with_the_thresholds_it_was_given(runs, target_engine):
    folder, _ = runs
    recorded = read_runs(target_engine, GOOD_DAY).iloc[-1]
    assert recorded["status"] == "succeeded" and recorded["report"] == str(folder / f"{GOOD_DAY}.ipynb")
    assert read_recorded(folder / f"{GOOD_DAY}.ipynb")["quality"] == recorded["quality"]  # the report shows the same
    assert recorded["rows_read"] == 4 * 1440 and recorded["turbines"] == ["WT01", "WT02", "WT03", "WT04"]
    # 3,276.7 kW is inside 2 x rated, so the range check (overridden) stays silent; the spike check still sees it.
    assert recorded["flag_counts"]["WT01"]["range"]["power"] == 0
    assert recorded["flag_counts"]["WT01"]["spike"]["power"] == 4
    assert recorded["flag_counts"]["WT03"]["under_performance"]["power"] == 90
    assert recorded["flag_counts"]["WT02"]["under_performance"]["power"] == 0
    assert recorded["quality"]["WT03"] == {"wind_speed": 1.0, "power": 0.9375, "ambient_temperature": 1.0}
    assert recorded["quality"]["WT01"]["power"] == round(1 - 4 / 1440, 6)


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
    assert "under_performance" in good and "Measured power curve" in good and "WT03 (E-82/2000)" in good
    assert "recorded:" not in good  # the recorded values are kept, not shown
    assert "-p date 2024-10-06 -y 'thresholds: {power_max_factor: 2.0}'" in good  # the command that ran


def test_a_failed_days_html_leads_with_what_went_wrong_and_what_to_do(runs):
    """Not papermill's banner and a traceback followed by empty sections: the project's message first,
    then what ran before the failure, and nothing of the sections that could not run."""
    folder, _ = runs
    html = (folder / f"{FAILING_DAY}.html").read_text()
    message = html.index("This run failed")
    assert "no samples for 2024-12-04" in html[message:] and "What to do:" in html[message:]
    assert html.index("2024-12-04 (UTC)") < message < html.index("Where this run reads and writes")
    for absent in (
        "An Exception was encountered",
        "Traceback",
        "papermill-error",
        "What was fetched",
        "Data quality",
        "10-minute statistics",
        "What the target holds now",
        ">Run<",
    ):
        assert absent not in html, absent


def test_a_failed_notebook_shows_the_message_not_a_traceback(runs):
    folder, _ = runs
    error = next(
        output
        for cell in nbformat.read(folder / f"{FAILING_DAY}.ipynb", as_version=4).cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    )
    assert error["traceback"][0].startswith("NoSourceDataError: The source has no samples for 2024-12-04")
    assert len(error["traceback"]) == 1 and "What to do:" in error["traceback"][0]


def test_etl_report_lists_every_run_failed_ones_too(runs, settings):
    folder, completed = runs
    assert completed.returncode == 0, completed.stderr
    assert f"FAILED {FAILING_DAY}: The source has no samples for {FAILING_DAY}" in completed.stderr
    summary = read_recorded(folder / "summary.ipynb")["runs"]
    assert [(row["date"], row["status"]) for row in summary] == [
        (GOOD_DAY.isoformat(), "succeeded"),
        (FAILING_DAY.isoformat(), "failed"),
    ]
    assert summary[0]["rows_read"] == 4 * 1440 and summary[0]["turbines"] == 4
    assert summary[0]["quality power"] == 0.9375  # the lowest turbine's: WT03
    assert "no samples for 2024-12-04" in summary[1]["error"] and summary[1]["rows_read"] is None
    html = (folder / "summary.html").read_text()
    assert "summarize_runs" not in html and "Failed runs" in html and f"no samples for {FAILING_DAY}" in html
    assert f'<a href="{GOOD_DAY}.html">{GOOD_DAY}</a>' in html and f'<a href="{FAILING_DAY}.html">' in html
    assert "93.75%" in html and "0.9375" not in html  # quality as a percentage
    assert (
        "quality check threshold (95%)"
        in rs.daily_quality_figure(rs.summarize_runs(folder, settings)).axes[0].get_legend_handles_labels()[1]
    )


def test_the_summary_shows_what_the_farm_did_on_the_days_of_its_reports(runs, settings):
    folder, _ = runs
    rows = kpis.trail_kpis(pd.Index([GOOD_DAY.isoformat(), FAILING_DAY.isoformat()]), settings)
    assert set(rows["day"]) == {GOOD_DAY} and sorted(rows["turbine"]) == ["WT01", "WT02", "WT03", "WT04"]
    farm = period_kpis(rows, "day", total=True).iloc[0]
    daily = kpis.period_table(rows, "day")
    assert daily.loc[GOOD_DAY.isoformat(), "produced (MWh)"] == round(farm["energy_kwh"] / 1000, 3)
    html = (folder / "summary.html").read_text()
    assert "What the farm did" in html and "Per month" in html and "availability, manufacturer" in html
    shown = present.text(daily)
    assert f"{farm['energy_kwh'] / 1000:,.3f}" in shown  # the figure the page shows
    assert f"{farm['energy_kwh'] / 1000:,.3f}" in html
