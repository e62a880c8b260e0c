"""The layout holds: imports point one way (import-linter's contracts in pyproject.toml), the top of
etl_lib holds packages that say what they may import, test harnesses stay out of the library, and
every notebook cell but the parameters only calls and displays."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from etl_lib.config.settings import PROJECT_ROOT

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
PACKAGES = (
    "core",
    "config",
    "storage",
    "metrics",
    "pipeline",
    "notebook",
    "reports",
    "orchestration",
    "ops",
    "simulation",
)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "400"}  # one line per contract in the report
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_every_import_contract_is_kept():
    result = lint_imports(PROJECT_ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    contracts = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("etl_lib/storage/engines.py", "from ..pipeline import run", "layers"),
        ("etl_lib/core/contract.py", "import pandas", "core and config need no pandas"),
        ("api/routes.py", "from etl_lib.storage import engines", "the API uses core and config only"),
        ("etl_lib/simulation/seed.py", "from ..pipeline import transform", "simulation builds on core and storage"),
        ("etl_lib/pipeline/transform.py", "from . import run", "no import cycles"),
        ("etl_lib/metrics/production.py", "from ..pipeline import quality", "layers"),
        ("etl_lib/notebook/runner.py", "from ..metrics import production", "running notebooks needs only"),
        ("etl_lib/orchestration/assets.py", "from ..reports import audit", "orchestration and the backfill"),
        ("etl_lib/ops/backfill.py", "from ..reports import runs_summary", "orchestration and the backfill"),
    ],
)
def test_the_contracts_catch_a_wrong_import(tmp_path, module, line, contract):
    """The same contracts over a copy of the code with one wrong import added: lint-imports fails and names it."""
    for name in ("etl_lib", "api"):
        shutil.copytree(PROJECT_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path)
    path = tmp_path / module
    path.write_text(path.read_text() + f"\n{line}  # a wrong import\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    broken = re.findall(r"^(.*) BROKEN$", result.stdout, re.M)
    assert any(name.startswith(contract) for name in broken), result.stdout[-3000:]


def test_the_library_top_level_holds_packages_that_say_what_they_may_import():
    top = sorted(p.name for p in (PROJECT_ROOT / "etl_lib").iterdir() if p.name != "__pycache__")
    assert top == sorted([*PACKAGES, "__init__.py"])
    for name in PACKAGES:
        docstring = ast.get_docstring(ast.parse((PROJECT_ROOT / "etl_lib" / name / "__init__.py").read_text()))
        assert docstring and docstring.startswith(f"``{name}``"), name
        assert "May import:" in docstring, f"etl_lib/{name}/__init__.py does not say what it may import"


def test_test_harnesses_are_not_shipped():
    """The wheel takes etl_lib* and api* (pyproject.toml); the image copies those and the notebooks."""
    from setuptools import find_packages

    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    shipped = find_packages(str(PROJECT_ROOT), include=config["include"])
    assert shipped and all(name.split(".")[0] in ("etl_lib", "api") for name in shipped)
    copied = re.findall(r"^COPY (\S+) ", (PROJECT_ROOT / "Dockerfile").read_text(), re.M)
    assert not any(name.startswith(("tests", "benchmarks")) for name in copied)
    for path in [*(PROJECT_ROOT / "etl_lib").rglob("*.py"), *(PROJECT_ROOT / "api").rglob("*.py")]:
        assert "ThreadingHTTPServer" not in path.read_text(), f"{path} holds a test server"


# What a notebook cell may hold besides calls: imports, assignments of calls, and displays.
_LOGIC = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.If,
    ast.IfExp,
    ast.Try,
    ast.With,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.BoolOp,
    ast.Compare,
    ast.BinOp,
    ast.JoinedStr,
)


@pytest.mark.parametrize("notebook", sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_cells_only_call_and_display(notebook):
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    assert "parameters" in cells[0].metadata.get("tags", []), "the first code cell must be the parameters"
    for cell in cells[1:]:
        code = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        for node in ast.walk(ast.parse(code)):
            assert not isinstance(node, _LOGIC), (
                f"{notebook.name}: a cell holds {type(node).__name__}; move the logic into etl_lib:\n{cell.source}"
            )


def _imported_top_levels(folder: Path) -> dict[str, set[str]]:
    """Per Python file under ``folder``: the top-level packages it imports (absolute imports)."""
    found = {}
    for path in folder.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(PROJECT_ROOT))] = names
    return found


def test_the_benchmarks_and_the_harnesses_never_import_the_tests():
    """The benchmarks share the test harnesses (``harness/``: throw-away stacks, fault servers), not the tests."""
    for folder in ("benchmarks", "harness"):
        offenders = {
            path: names for path, names in _imported_top_levels(PROJECT_ROOT / folder).items() if "tests" in names
        }
        assert not offenders, offenders
