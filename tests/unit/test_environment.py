"""environment.yml (conda/mamba) agrees with pyproject.toml: one source of truth for dependencies."""

from __future__ import annotations

import re
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from etl_lib.config.settings import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
ENVIRONMENT = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())


def locked() -> dict[str, str]:
    pins = {}
    for line in (PROJECT_ROOT / "constraints.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def conda_and_pip_parts() -> tuple[list[str], list[str]]:
    conda, pip = [], []
    for item in ENVIRONMENT["dependencies"]:
        if isinstance(item, dict):
            pip.extend(item["pip"])
        else:
            conda.append(item)
    return conda, pip


def test_conda_brings_only_python_312_and_pip_and_pip_installs_the_project_with_the_lock():
    conda, pip = conda_and_pip_parts()
    assert conda == ["python=3.12", "pip"], "every other dependency belongs in pyproject.toml"
    assert pip == ["-c constraints.txt", "-e .[dev]"]
    assert SpecifierSet(PYPROJECT["requires-python"]).contains("3.12")
    assert ENVIRONMENT["name"] == "wind-etl"


def test_the_installed_extra_brings_jupyterlab_and_the_kernel():
    extra = re.search(r"\[(\w+)\]", conda_and_pip_parts()[1][1]).group(1)
    names = {
        canonicalize_name(Requirement(r).name)
        for r in PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"][extra]
    }
    assert {"jupyterlab", "ipykernel", "papermill"} <= names


def test_the_lock_pins_every_dependency_within_its_range():
    pins = locked()
    requirements = [Requirement(r) for r in PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"]["dev"]]
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is in pyproject.toml but not pinned in constraints.txt (make lock)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject.toml's {requirement}; run make lock"
        )
