"""The Makefile's targets as a user runs them: `make lab` (as root too), `make dagster` and the
Dagster home it prepares, `make clean-stack`, and where `make bench` writes.

Long-running targets are started for real against the test stack, asked over HTTP, and stopped
(with every process they started) within a bounded time. `-o .venv/.installed` keeps make from
reinstalling the environment; BIN points the targets at the environment running these tests.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

from etl_lib.config.settings import PROJECT_ROOT, Settings
from etl_lib.ops.stack import running_api
from harness.stack import free_port
from tests.unit.test_make import make, make_command

MAKE = shutil.which("make")
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")
STARTUP_SECONDS = 180
DEPLOY_DAGSTER_YAML = PROJECT_ROOT / "deploy" / "dagster.yaml"


def services_env(settings, **extra: str) -> dict[str, str]:
    """The environment of a user whose URLs point at the running services (here: the test stack),
    so `make lab` and `make dagster` start no stack of their own."""
    return {
        **os.environ,
        "SOURCE_DATABASE_URL": settings.source_url,
        "TARGET_DATABASE_URL": settings.target_url,
        "ETL_API_URL": settings.api_base_url,
        **extra,
    }


def stop_tree(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop ``process`` and every process it started: SIGTERM, then SIGKILL what is left."""
    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for member in family:
        try:
            member.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(family, timeout=timeout)
    for member in alive:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
    process.wait(timeout=10)


@contextmanager
def running(command: list[str], env: dict, log: Path, url: str, ready: str | None = None) -> Iterator[httpx.Response]:
    """Start ``command``; yield the first answer of ``url`` once it answers (and ``ready`` is in the log)."""
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        answer = None
        while answer is None or (ready and ready not in log.read_text()):
            assert process.poll() is None, f"{command} ended with {process.returncode}:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, (
                f"{url} did not answer in {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}"
            )
            if answer is None:
                try:
                    answer = httpx.get(url, timeout=5)
                except httpx.TransportError:
                    pass
            time.sleep(0.5)
        yield answer
    finally:
        stop_tree(process)


def assert_port_closed(port: int) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


# --- make lab -------------------------------------------------------------------------------------


def test_make_lab_starts_and_answers_http_as_the_user_running_it_root_included(settings, tmp_path):
    port = free_port()
    env = services_env(settings, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    log = tmp_path / "lab.log"
    args = f"LAB_ARGS=--no-browser --port {port} --ServerApp.port_retries=0"
    with running(make_command("lab", args), env, log, f"http://127.0.0.1:{port}/api") as answer:
        assert answer.status_code == 200 and "version" in answer.json()
    command = next(line for line in log.read_text().splitlines() if "jupyter lab" in line)
    assert ("--allow-root" in command) == (os.geteuid() == 0), command
    assert "Running as root is not recommended" not in log.read_text()
    assert_port_closed(port)


# --- make dagster and its home ---------------------------------------------------------------------


def test_make_dagster_is_quiet_when_all_is_well(settings, tmp_path):
    port = free_port()
    home = tmp_path / "dagster-home"
    env = services_env(settings)
    log = tmp_path / "dagster.log"
    command = make_command("dagster", f"DAGSTER_HOME={home}", f"DAGSTER_ARGS=--port {port} --host 127.0.0.1")
    with running(command, env, log, f"http://127.0.0.1:{port}/server_info", ready="Instance is configured"):
        pass
    output = log.read_text()
    assert "Telemetry" not in output, output
    # Neither a Python warning (Dagster's notice that `dg` supersedes its CLI) nor a logged one
    # (a DAGSTER_HOME without dagster.yaml).
    assert not re.search(r"\w+Warning: |\bWARNING\b", output), output
    assert yaml.safe_load((home / "dagster.yaml").read_text()) == yaml.safe_load(DEPLOY_DAGSTER_YAML.read_text())
    assert_port_closed(port)


def test_clean_stack_stops_the_stack_and_removes_its_folder(tmp_path):
    stack_dir = tmp_path / "stack"
    port = free_port()
    env = {**os.environ, "ETL_STACK_DIR": str(stack_dir), "ETL_API_PORT": str(port)}
    for name in ("SOURCE_DATABASE_URL", "TARGET_DATABASE_URL", "API_DATABASE_URL", "ETL_API_URL"):
        env.pop(name, None)
    up = subprocess.run(
        [str(BIN / "etl"), "stack", "up", "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    try:
        assert up.returncode == 0, up.stderr
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
        postmaster = int((stack_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
        api_pid = running_api(Settings(stack_dir=stack_dir, api_port=port)).pid

        done = make("clean-stack", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert not stack_dir.exists()
        for pid in (postmaster, api_pid):
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert_port_closed(port)

        again = make("clean-stack", env=env)  # nothing left to stop or remove: still fine
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        subprocess.run([str(BIN / "etl"), "stack", "down"], env=env, capture_output=True, timeout=120)


# --- make bench's output ---------------------------------------------------------------------------


def test_the_benchmarks_reference_computes_the_etls_statistics(settings, target_engine):
    """`make bench` holds `etl run --no-report D` against benchmarks/reference_etl.py; the ratio means
    something only if both do the same work: the reference's statistics are the ETL's, row for row."""
    import numpy as np
    import pandas as pd
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from benchmarks.bench import REFERENCE
    from etl_lib.core.contract import statistic_signal_names
    from etl_lib.pipeline.run import run_etl
    from harness.sql import target_day
    from harness.stack import scratch_database

    day = "2024-10-06"
    run_etl(day, settings)
    etl = target_day(target_engine, dt.date.fromisoformat(day))
    etl = etl[etl.index.get_level_values("signal").isin(statistic_signal_names())].rename("value_etl").reset_index()
    with scratch_database(settings.target_url, "reference") as url:
        done = subprocess.run(
            [sys.executable, str(REFERENCE), settings.api_base_url, url, day],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=PROJECT_ROOT,
        )
        assert done.returncode == 0, done.stderr
        engine = create_engine(url, poolclass=NullPool)
        reference = pd.read_sql("SELECT timestamp, signal, value AS value_reference FROM reference_data", engine)
        engine.dispose()
    reference[["turbine", "signal"]] = reference["signal"].str.split(".", n=1, expand=True)  # WT01.power_mean
    both = etl.merge(reference, on=["turbine", "signal", "timestamp"], how="outer", indicator=True)
    assert len(etl) == 4 * 2 * 4 * 144 and (both["_merge"] == "both").all(), both["_merge"].value_counts()
    np.testing.assert_allclose(both["value_reference"], both["value_etl"], rtol=1e-12, atol=1e-12)
