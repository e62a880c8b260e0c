"""The audit trail keeps every run, as a user runs them with `etl`: runs/DATE.ipynb is the report of the
day's last succeeded run of the whole farm; a run of named turbines or a failed run keeps its own report
beside it and never replaces that one; each record names its report; `etl report` shows per day the run
that stands, lists the others, and names a report it cannot read instead of stopping."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess

import pandas as pd
import pytest
from sqlalchemy import delete

from etl_lib.notebook.recorded import read_error, read_recorded
from etl_lib.storage.run_record import read_runs
from etl_lib.storage.target import etl_run
from harness.fault_servers import day_rows, day_with_values
from harness.process_faults import etl

DAY = dt.date(2024, 10, 6)  # WT03's derating: 93.75 % power quality; WT01 alone: 99.72 %


def report_key(report) -> str:
    """The run key papermill kept in the report's metadata (the parameters it injected)."""
    return json.loads(report.read_text())["metadata"]["papermill"]["parameters"]["run_key"]


@pytest.fixture
def new_records(target_engine):
    """The etl_run rows a test adds, removed afterwards (the data they wrote is the seeded days' again)."""
    before = set(read_runs(target_engine)["id"])
    yield lambda run_date: (lambda runs: runs[~runs["id"].isin(before)])(read_runs(target_engine, run_date))
    added = [int(i) for i in read_runs(target_engine)["id"] if i not in before]
    with target_engine.begin() as conn:
        conn.execute(delete(etl_run).where(etl_run.c.id.in_(added)))


def test_a_partial_and_a_mistyped_run_keep_their_own_reports_beside_the_farms(settings, tmp_path, new_records):
    """The issue's scenario: after a farm run of 2024-10-06, `--turbines WT99` (a typo) and `--turbines WT01`
    used to overwrite runs/2024-10-06.ipynb, and `etl report` then showed the day at 99.7 % power quality,
    hiding WT03's 93.8 %."""
    runs = tmp_path / "runs"
    env = {"ETL_RUNS_DIR": str(runs)}
    farm = etl("run", DAY.isoformat(), env=env)
    assert farm.returncode == 0, farm.stderr
    report = runs / f"{DAY}.ipynb"
    farms_report = report.read_bytes()

    typo = etl("run", DAY.isoformat(), "--turbines", "WT99", env=env)
    assert typo.returncode == 1
    assert report.read_bytes() == farms_report  # a typo never replaces the farm's report
    assert "The farm WF01 has no turbine(s) 'WT99'" in typo.stderr and f"Nothing of {DAY} was written" in typo.stderr
    one = etl("run", DAY.isoformat(), "--turbines", "WT01", env=env)
    assert one.returncode == 0, one.stderr
    assert report.read_bytes() == farms_report  # still the farm's, untouched

    records = new_records(DAY)
    assert len(records) == 3
    by_turbines = {tuple(r["turbines"]): r for _, r in records.iterrows()}
    farm_run, typo_run, one_run = (by_turbines[t] for t in (("WT01", "WT02", "WT03", "WT04"), ("WT99",), ("WT01",)))
    assert farm_run["status"] == "succeeded" and farm_run["report"] == str(report)
    assert report_key(report) == farm_run["key"]  # the report names its run, and the run its report
    for run, status in ((typo_run, "failed"), (one_run, "succeeded")):
        own = runs / f"{DAY}.{run['key']}.ipynb"
        assert run["status"] == status and run["report"] == str(own) and pd.isna(run["report_error"])
        assert own.exists() and report_key(own) == run["key"]
    one_report = runs / f"{DAY}.{one_run['key']}.ipynb"
    assert f"report: {one_report}" in one.stdout
    assert read_error(runs / f"{DAY}.{typo_run['key']}.ipynb")["ename"] == "ConfigurationError"
    assert read_recorded(runs / f"{DAY}.{one_run['key']}.ipynb")["turbines"] == ["WT01"]
    assert f"{DAY}.{typo_run['key']}.ipynb" in typo.stderr  # the error names the failed run's own report
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == sorted(
        [report.name, f"{DAY}.{typo_run['key']}.ipynb", f"{DAY}.{one_run['key']}.ipynb"]
    )

    summarized = etl("report", env=env, timeout=300)
    assert summarized.returncode == 0, summarized.stderr
    recorded = read_recorded(runs / "summary.ipynb")
    [day] = recorded["runs"]
    assert day["date"] == DAY.isoformat() and day["status"] == "succeeded" and day["turbines"] == 4
    assert day["quality power"] == 0.9375 and day["report"] == report.name  # WT03's derating shows
    assert day["other runs"] == 2
    others = {row["turbines"]: row for row in recorded["other runs"]}
    assert others["WT99"]["status"] == "failed" and "WT99" in others["WT99"]["error"]
    assert others["WT01"]["status"] == "succeeded" and others["WT01"]["report"] == f"{DAY}.{one_run['key']}.ipynb"
    html = (runs / "summary.html").read_text()
    for run in (typo_run, one_run):  # each listed with a link to its own report's export
        assert f'<a href="{DAY}.{run["key"]}.html">' in html and (runs / f"{DAY}.{run['key']}.html").exists()
    assert f'<a href="{DAY}.html">{DAY}</a>' in html
    assert "93.75%" in summarized.stdout and "99.72%" not in summarized.stdout.split("Runs that do not stand")[0]


UNREADABLE = {
    "cut short (a full disk)": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "not a notebook": lambda text: json.dumps({"hello": "world"}),
}


def test_etl_report_names_unreadable_reports_marks_their_days_and_summarizes_the_rest(settings, tmp_path):
    runs = tmp_path / "runs"
    env = {"ETL_RUNS_DIR": str(runs)}
    days = [dt.date(2024, 10, 2) + dt.timedelta(days=i) for i in range(len(UNREADABLE) + 1)]
    done = etl("backfill", days[0].isoformat(), days[-1].isoformat(), "--notebooks", env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    broken = dict(zip(days[1:], UNREADABLE.items(), strict=True))
    for day, (_, spoil) in broken.items():
        path = runs / f"{day}.ipynb"
        path.write_text(spoil(path.read_text()))

    summarized = etl("report", env=env, timeout=300)

    assert summarized.returncode == 0, summarized.stderr
    assert "probably a bug" not in summarized.stderr and "Traceback" not in summarized.stderr
    for day, (why, _) in broken.items():
        line = next(line for line in summarized.stderr.splitlines() if line.startswith(f"UNREADABLE {day}:"))
        assert str(runs / f"{day}.ipynb") in line, (why, line)
    recorded = {row["date"]: row for row in read_recorded(runs / "summary.ipynb")["runs"]}
    assert recorded[days[0].isoformat()]["status"] == "succeeded"  # the readable day, summarized as ever
    assert recorded[days[0].isoformat()]["report"] == f"{days[0]}.ipynb"
    for day in broken:
        assert recorded[day.isoformat()]["status"] == "unreadable" and recorded[day.isoformat()]["report"] == ""
        assert "is unreadable" in recorded[day.isoformat()]["error"]
    assert (runs / f"{days[0]}.html").exists() and not any((runs / f"{day}.html").exists() for day in broken)
    assert "unreadable" in summarized.stdout


@pytest.fixture
def full_disk(tmp_path):
    """A runs folder on a real, tiny tmpfs (64 KiB): a report does not fit, so saving it fails with ENOSPC."""
    folder = tmp_path / "runs"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here ({mounted.stderr.decode().strip()}): needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_report_a_full_disk_refuses_names_its_path_and_says_the_day_was_written(
    settings, target_engine, full_disk, new_records
):
    """It said "A file operation failed: No space left on device. Check that path" without the path, and
    not that the day's data was written."""
    day = dt.date(2024, 10, 3)
    done = etl("run", day.isoformat(), env={"ETL_RUNS_DIR": str(full_disk)})

    assert done.returncode == 1
    [record] = new_records(day).to_dict("records")
    report = full_disk / f"{day}.ipynb"
    assert done.stderr.startswith(f"error: The notebook ran, but its report {report} could not be saved: "), done.stderr
    assert "No space left on device" in done.stderr
    assert f"The data of {day} was written to the target (etl_run {record['id']})." in done.stderr
    assert done.stderr.count("What to do:") == 1 and "free space" in done.stderr and "Traceback" not in done.stderr
    # the record says the same: the data written, no report, and why
    assert record["status"] == "succeeded" and pd.isna(record["report"])  # no report kept
    assert str(report) in record["report_error"] and "No space left on device" in record["report_error"]
    assert f"{day} succeeded: 4 turbine(s)" in done.stdout and "the report is not the run's" in done.stdout
    assert len(day_rows(target_engine, day)) == record["rows_written"]
    assert list(full_disk.iterdir()) == []  # nothing half-written


HUGE_DAY = dt.date(2024, 9, 24)  # outside the seeded period: 2024-10-05 copied, with one sample changed


@pytest.mark.parametrize("value", ["1e308", "1.7e308", "-1e308"])
def test_one_huge_power_sample_never_breaks_the_report(settings, target_engine, tmp_path, value):
    """One 1e308 power sample broke the report (DataError: value out of range: overflow in the table of
    written rows; LinAlgError in the figures), and `etl run` exited 1 while etl_run said succeeded."""
    runs = tmp_path / "runs"
    with day_with_values(settings, HUGE_DAY, [(720, "WT01", "power", value)], dt.date(2024, 10, 5)):
        done = etl("run", HUGE_DAY.isoformat(), env={"ETL_RUNS_DIR": str(runs)})
        record = read_runs(target_engine, HUGE_DAY).iloc[-1]
    assert done.returncode == 0, done.stderr
    report = runs / f"{HUGE_DAY}.ipynb"
    assert record["status"] == "succeeded" and record["report"] == str(report) and pd.isna(record["report_error"])
    assert read_error(report) is None  # every cell ran
    cells = json.loads(report.read_text())["cells"]
    streams = [o for cell in cells for o in cell.get("outputs", []) if o.get("output_type") == "stream"]
    assert streams == []  # not even a warning of an overflow
    shown = "\n".join(
        "".join(o.get("data", {}).get("text/plain", "")) for cell in cells for o in cell.get("outputs", [])
    )
    assert f"{float(value):.6g}" in shown  # the sample's bucket statistics, as they are
    assert not re.search(r"\binf\b", shown)  # nothing rounded to infinity on the way
    assert record["flag_counts"]["WT01"]["range"]["power"] == 1
