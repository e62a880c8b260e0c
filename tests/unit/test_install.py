"""The lock (constraints.txt) installs on the oldest Python we claim, and keeps `import papermill` light.

`make lock` resolves for Python >= LOCK_PYTHON (the Makefile's; Debian 12's 3.11.2). A lock made by
`pip freeze` on a newer Python once pinned soupsieve 4.1.2 (Requires-Python >= 3.11.5) and broke
`make run` on 3.11.2: these tests read each installed pin's Requires-Python, so such a lock fails here.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
OLDEST = re.search(r"^LOCK_PYTHON\s*\?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: Marker | None

    def applies(self, environment: dict[str, str] | None = None) -> bool:
        return self.marker is None or self.marker.evaluate(environment)


def pins() -> list[Pin]:
    found = []
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        requirement = line.split(" #", 1)[0].strip()
        if not requirement or requirement.startswith("#"):
            continue
        spec, _, marker = requirement.partition(";")
        name, version = (part.strip() for part in spec.split("=="))
        found.append(Pin(canonicalize_name(name), version, Marker(marker) if marker.strip() else None))
    return found


def oldest_environment() -> dict[str, str]:
    """Marker values of CPython OLDEST on Linux, where `make run` must work."""
    major, minor, _ = OLDEST.split(".")
    return {
        "python_version": f"{major}.{minor}",
        "python_full_version": OLDEST,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
    }


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def test_the_lock_pins_every_package_once_for_a_given_python():
    for environment in (None, oldest_environment()):
        names = [pin.name for pin in pins() if pin.applies(environment)]
        twice = sorted({name for name in names if names.count(name) > 1})
        assert not twice, f"constraints.txt pins these twice for one Python: {twice}"


def test_this_environment_has_the_locked_versions():
    wrong = {
        pin.name: (pin.version, installed_version(pin.name))
        for pin in pins()
        if pin.applies() and installed_version(pin.name) not in (None, pin.version)
    }
    assert not wrong, f"installed versions differ from constraints.txt (pinned, installed): {wrong}; run make install"


def test_no_pin_for_the_oldest_python_excludes_it():
    """Each pin that applies on OLDEST and is installed here allows OLDEST by its Requires-Python."""
    checked, excluding = 0, {}
    for pin in pins():
        if not pin.applies(oldest_environment()) or installed_version(pin.name) != pin.version:
            continue  # installed only on another Python: its metadata is checked in that Python's venv
        requires_python = importlib.metadata.metadata(pin.name).get("Requires-Python")
        checked += 1
        if requires_python and not SpecifierSet(requires_python).contains(OLDEST):
            excluding[f"{pin.name}=={pin.version}"] = requires_python
    assert checked > 100, f"only {checked} pins were checked: is the project installed with its dev extra?"
    assert not excluding, (
        f"constraints.txt pins releases whose Requires-Python excludes Python {OLDEST}: {excluding}; "
        f"make lock resolves for Python >= {OLDEST}"
    )


def loaded_by(statements: str, modules: set[str]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded (not a placeholder) after ``statements``."""
    code = f"import json, sys; {statements}; print(json.dumps([m for m in {sorted(modules)!r} if sys.modules.get(m)]))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout)


@pytest.mark.skipif(installed_version("papermill") is None, reason="papermill is not installed")
def test_import_papermill_does_not_compile_lark_grammars():
    """jsonschema >= 4.25 imports rfc3987-syntax (Lark grammars compiled at import: over a second)."""
    assert "rfc3987-syntax" not in {pin.name for pin in pins()}
    loaded = loaded_by("import papermill", {"rfc3987_syntax", "lark"})
    assert loaded == [], f"import papermill loads {loaded}"


def test_the_etl_does_not_load_httpx_command_line_client():
    """httpx imports its CLI (click, rich, pygments) whenever click is installed; the ETL never runs it
    and etl_lib keeps it out, so `etl run --no-report` does not pay for it. httpx itself still works."""
    loaded = loaded_by(
        "import etl_lib.pipeline.run, httpx; httpx.URL('http://x/')", {"rich", "pygments", "click", "httpx._main"}
    )
    assert loaded == [], f"importing the pipeline loads {loaded}"


def test_checking_a_file_does_not_load_the_api_client():
    """`etl check` reads a file: the API's client (httpx) and its retries (tenacity) are not loaded for it, a
    tenth of a second of every `etl check`'s start."""
    loaded = loaded_by("import etl_lib.pipeline.check_file", {"httpx", "tenacity"})
    assert loaded == [], f"checking a file loads {loaded}"
