"""The unit tier: no database, no API, no server. A unit test that leaves a server process running
(PostgreSQL, the API, a notebook kernel) fails, so the tier stays what ``make test-fast`` promises."""

from __future__ import annotations

import psutil
import pytest

SERVERS = ("postgres", "uvicorn", "api.main", "ipykernel", "etl_lib.notebook.kernel", "dagster")


def _servers() -> dict[int, str]:
    found = {}
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline()) or child.name()
        except psutil.Error:
            continue
        if any(name in command for name in SERVERS):
            found[child.pid] = command
    return found


@pytest.fixture(autouse=True)
def starts_no_server():
    before = _servers()
    yield
    started = {pid: command for pid, command in _servers().items() if pid not in before}
    assert not started, f"a unit test left server processes running: {started}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``costly`` (several seconds each) first: ``make test-fast`` spreads the tier over every
    core (pytest-xdist), and a long test started last would keep one core busy while the others wait."""
    items.sort(key=lambda item: item.get_closest_marker("costly") is None)  # stable: the rest keep their order
