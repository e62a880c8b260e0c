"""Code style: ruff's formatter and its lint rules (``[tool.ruff]`` in pyproject.toml) hold for the whole
project, with no formatter switched off by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from etl_lib.config.settings import PROJECT_ROOT

RUFF = str(Path(sys.executable).with_name("ruff"))


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([RUFF, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)


def test_the_code_is_formatted_by_ruff():
    done = ruff("format", "--check", ".")
    assert done.returncode == 0, f"run `ruff format .`:\n{done.stdout[-3000:]}{done.stderr[-2000:]}"


def test_ruff_finds_nothing_to_lint():
    done = ruff("check", ".")
    assert done.returncode == 0, f"{done.stdout[-3000:]}{done.stderr[-2000:]}"


def test_no_formatter_is_switched_off_by_hand():
    marked = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for folder in ("etl_lib", "api", "tests", "harness", "benchmarks")
        for path in (PROJECT_ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(f"fmt: {switch}" in line for switch in ("skip", "off"))
    ]
    assert marked == []
