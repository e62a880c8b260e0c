"""The `etl` command and the papermill command line, as a user runs them."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from etl_lib.config.settings import PROJECT_ROOT, Settings
from etl_lib.core.errors import StackError
from etl_lib.notebook.recorded import read_recorded
from etl_lib.ops.stack import stack_status, start_api
from etl_lib.storage.engines import engine_for
from etl_lib.storage.run_record import read_runs
from harness.stack import free_port, scratch_database

ETL = str(Path(sys.executable).with_name("etl"))
PAPERMILL = str(Path(sys.executable).with_name("papermill"))


def run(*args: str, env: dict | None = None, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env=env or os.environ.copy(), cwd=cwd, timeout=300)


def test_status_json_gives_urls_usable_as_given(settings):
    result = run(ETL, "stack", "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert {"source_database_url", "target_database_url", "api_url"} <= set(status)
    for key in ("source_database_url", "target_database_url"):
        engine = create_engine(status[key])
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM data")).scalar_one() > 0
        engine.dispose()
    assert httpx.get(f"{status['api_url']}/health").status_code == 200


def test_seed_is_idempotent(source_engine):
    def count() -> int:
        with source_engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM data")).scalar_one()

    before = count()
    for args in (("seed",), ("seed",), ("seed", "--if-empty")):
        result = run(ETL, *args)
        assert result.returncode == 0, result.stderr
    assert count() == before
    assert "left as it is" in result.stdout


# What papermill prints on stderr as it goes: its paths, the kernel, and the progress bar.
PROGRESS = re.compile(r"^(Input Notebook:|Output Notebook:|Executing notebook with kernel:|Executing: +\d+%|$)")


def beyond_progress(stderr: str) -> list[str]:
    return [line for line in stderr.replace("\r", "\n").splitlines() if not PROGRESS.match(line)]


def test_etl_run_writes_the_report_and_says_what_it_did(settings):
    ok = run(ETL, "run", "2024-10-04")
    assert ok.returncode == 0, ok.stderr
    assert beyond_progress(ok.stderr) == []  # quiet when all is well: no kernel warnings
    report = settings.runs_dir / "2024-10-04.ipynb"
    assert str(report) in ok.stdout
    assert "2024-10-04 succeeded:" in ok.stdout and "rows written; lowest quality " in ok.stdout
    assert "4 turbine(s) of farm WF01, 5760 samples read" in ok.stdout
    assert "lowest quality wind_speed 100.0%, power 100.0%, ambient_temperature 100.0%\n" in ok.stdout  # a clean day
    record = read_runs(engine_for(settings.target_url), dt.date(2024, 10, 4)).iloc[-1]  # the one record of the run
    assert record["status"] == "succeeded" and record["report"] == str(report)
    assert record["rows_read"] == 5760 and f"{record['rows_written']} rows written" in ok.stdout


def test_a_day_outside_the_data_is_refused_in_a_second_saying_what_the_source_covers(settings, api, tmp_path):
    """It took about 5 s (a kernel), wrote a failed report and a failed record, and did not say what the
    source covers."""
    day = dt.date(2024, 12, 1)
    coverage = api.get("/coverage").json()
    covers = f"the source covers {coverage['first'][:10]} to {coverage['last'][:10]} ({coverage['rows']:,} samples)"
    runs, before = tmp_path / "runs", len(read_runs(engine_for(settings.target_url), day))
    # No kernel starts: the refusal comes before the notebook is even looked for (this one does not exist).
    env = {**os.environ, "ETL_RUNS_DIR": str(runs), "ETL_NOTEBOOK": str(tmp_path / "no-such-notebook.ipynb")}
    for args in (("run", day.isoformat()), ("run", day.isoformat(), "--no-report")):
        refused = run(ETL, *args, env=env)
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.startswith(f"error: The source has no samples for {day}"), refused.stderr
        assert covers in refused.stderr and refused.stderr.count("What to do:") == 1
        assert "Traceback" not in refused.stderr
    assert not runs.exists() or not any(runs.iterdir())  # no report
    assert len(read_runs(engine_for(settings.target_url), day)) == before  # no run, so no record


def test_bad_date_on_the_command_line(settings):
    result = run(ETL, "run", "2024-13-01", "--no-report")
    assert result.returncode == 2
    assert "does not exist on the calendar" in result.stderr


def test_papermill_command_exactly_as_documented(settings, tmp_path):
    """`papermill notebooks/etl.ipynb runs/2024-10-05.ipynb -p date 2024-10-05`, from the project root."""
    output = tmp_path / "2024-10-05.ipynb"
    result = run(PAPERMILL, "notebooks/etl.ipynb", str(output), "-p", "date", "2024-10-05")
    assert result.returncode == 0, result.stderr[-2000:]
    assert read_recorded(output)["date"] == "2024-10-05"  # the report keeps its run's figures for its readers
    assert beyond_progress(result.stderr) == []  # no "running over TCP without encryption", no KeyboardInterrupt
    assert "Executing: 100%" in result.stderr  # the progress is still there


def test_stack_up_status_down_in_a_fresh_folder(tmp_path):
    env = {**os.environ, "ETL_STACK_DIR": str(tmp_path / "stack"), "ETL_API_PORT": str(free_port())}
    try:
        up = run(ETL, "stack", "up", "--json", env=env)
        assert up.returncode == 0, up.stderr
        status = json.loads(up.stdout)
        assert status["database_running"] and status["api_running"]
        assert httpx.get(f"{status['api_url']}/health").status_code == 200
        again = run(ETL, "stack", "up", env=env)
        assert again.returncode == 0, again.stderr
    finally:
        down = run(ETL, "stack", "down", env=env)
    assert down.returncode == 0, down.stderr
    after = json.loads(run(ETL, "stack", "status", "--json", env=env).stdout)
    assert not after["database_running"] and not after["api_running"]


def test_a_stale_api_pid_is_cleared(tmp_path):
    settings = Settings(stack_dir=tmp_path, api_port=free_port())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "api.pid").write_text(str(dead.pid))
    status = stack_status(settings)
    assert status.api_pid is None and not status.api_running
    assert not (tmp_path / "api.pid").exists()


def test_a_port_in_use_gets_a_clear_message(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = Settings(stack_dir=tmp_path, api_port=taken.getsockname()[1])
        with pytest.raises(StackError, match="already in use") as info:
            start_api(settings)
    assert "ETL_API_PORT" in str(info.value)


def _system_postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _system_postgres_reachable(), reason="no PostgreSQL on 127.0.0.1:5432 (optional TCP check)")
def test_target_over_tcp(settings):
    """The same ETL against a PostgreSQL reached over TCP (the machine's own server, when there is one)."""
    from etl_lib.config.settings import get_settings
    from etl_lib.pipeline.run import run_etl

    with scratch_database("postgresql+psycopg2://postgres@127.0.0.1:5432/postgres", "wind_etl_tcp") as url:
        tcp_settings = get_settings(target_database_url=url)
        first = run_etl("2024-10-06", tcp_settings)
        second = run_etl("2024-10-06", tcp_settings)
        engine = create_engine(url)
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT count(*) FROM data")).scalar_one()
                == first.rows_written
                == second.rows_written
            )
        engine.dispose()
