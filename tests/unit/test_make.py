"""The Makefile's targets that need no stack: the Dagster home `make dagster-home` prepares, the
compose service's Dagster configuration, and where `make bench` writes. (`make lab`, `make dagster`,
`make clean-stack` for real: tests/integration/test_make.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from etl_lib.config.settings import PROJECT_ROOT

MAKE = shutil.which("make")
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")
STARTUP_SECONDS = 180
DEPLOY_DAGSTER_YAML = PROJECT_ROOT / "deploy" / "dagster.yaml"


def make_command(*args: str) -> list[str]:
    return [MAKE, "--no-print-directory", "-o", ".venv/.installed", f"BIN={BIN}", *args]


def make(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        make_command(*args),
        cwd=PROJECT_ROOT,
        env=env or os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_dagster_home_turns_telemetry_off_in_an_older_dagster_yaml(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("concurrency:\n  runs:\n    max_concurrent_runs: 3\n")
    for _ in range(2):  # the second time changes nothing
        done = make("dagster-home", f"DAGSTER_HOME={home}")
        assert done.returncode == 0, done.stderr
    assert yaml.safe_load((home / "dagster.yaml").read_text()) == {
        "concurrency": {"runs": {"max_concurrent_runs": 3}},
        "telemetry": {"enabled": False},
    }


def test_the_compose_service_uses_the_same_dagster_yaml_and_warning_filter():
    service = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]["dagster"]
    home = service["environment"]["DAGSTER_HOME"]
    assert f"./deploy/dagster.yaml:{home}/dagster.yaml:ro" in service["volumes"]
    assert yaml.safe_load(DEPLOY_DAGSTER_YAML.read_text())["telemetry"] == {"enabled": False}
    dry_run = make("-n", "dagster", "DAGSTER_HOME=/nowhere").stdout
    assert "ignore::FutureWarning:click.core" in dry_run
    assert service["environment"]["PYTHONWARNINGS"] == "ignore::FutureWarning:click.core"


# --- make clean-stack ------------------------------------------------------------------------------


def test_bench_writes_an_untracked_file_unless_asked_to_save(tmp_path):
    from benchmarks.bench import LATEST, SAVED, write_results

    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(SAVED)], cwd=PROJECT_ROOT, capture_output=True)
    if tracked.returncode == 128 and b"not a git repository" in tracked.stderr:
        pytest.skip("not a git checkout")
    assert tracked.returncode == 0, f"{SAVED} should be tracked"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(LATEST)], cwd=PROJECT_ROOT)
    assert ignored.returncode == 0, f"{LATEST} should be git-ignored"

    saved, latest = tmp_path / "results.json", tmp_path / "results.latest.json"
    saved.write_text(SAVED.read_text())
    before = saved.read_text()
    run = json.loads(before)
    run["when"] = "now"
    run["day"]["library_median_s"] *= 2

    lines = write_results(run, save=False, latest=latest, saved=saved)
    assert saved.read_text() == before
    assert json.loads(latest.read_text()) == run
    text = "\n".join(lines)
    assert "Against the saved figures" in text and "(2.00x)" in text and "SAVE=1" in text

    write_results(run, save=True, latest=latest, saved=saved)
    assert json.loads(saved.read_text()) == run

    assert "--save" not in make("-n", "bench").stdout
    assert "benchmarks.bench --save" in make("-n", "bench", "SAVE=1").stdout
