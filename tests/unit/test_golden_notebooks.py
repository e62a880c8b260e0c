"""The committed notebooks' outputs (nbval's reference) hold nothing of the machine that made them:
no temporary or home paths, no ports, no wall-clock times. `make golden` keeps it so."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

import nbformat
import pytest

from etl_lib.config.settings import PROJECT_ROOT
from etl_lib.notebook.recorded import MIME_TYPE

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
MACHINE = {
    "a temporary or home path": re.compile(r"(/tmp/|/var/folders/|/home/|/root/|/Users/)"),
    "the project's folder": re.compile(re.escape(str(PROJECT_ROOT))),
    "a port": re.compile(r"(127\.0\.0\.1|localhost|0\.0\.0\.0):\d+"),
    "a wall-clock instant": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+"),
    "a duration in seconds": re.compile(r"(?m)^\s*(extract|quality|transform|load)\s+\d+\.\d+\s*$"),
}


def shown(output: dict) -> str:
    """Everything of one output a machine could leak into: text, tracebacks, every non-image form."""
    parts = [output.get("text", ""), *output.get("traceback", []), output.get("evalue", "")]
    for mime, value in output.get("data", {}).items():
        if not mime.startswith("image/"):
            parts.append(value if isinstance(value, str) else json.dumps(value))
    return unquote("\n".join(parts))  # a URL's host=%2Ftmp%2F... is a path too


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_outputs_hold_no_paths_ports_or_timings(path):
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        texts = [shown(output) for output in cell.get("outputs", [])] + [json.dumps(cell.metadata)]
        for text in texts:
            for what, pattern in MACHINE.items():
                found = pattern.search(text)
                assert not found, f"{path.name}, cell {index}: {what} ({found.group(0)!r}); run `make golden`"
        for output in cell.get("outputs", []):
            assert "seconds" not in output.get("data", {}).get(MIME_TYPE, {}), f"{path.name}, cell {index}: timings"
            assert output.get("name") != "stderr", f"{path.name}, cell {index} wrote on stderr: {output.get('text')}"
