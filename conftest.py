"""The test tiers (``tests/unit``, ``tests/integration`` and the notebooks under nbval) and the one
embedded stack the costly ones share.

The stack starts once collection is done, only when a collected test needs it (anything outside
``tests/unit/``), and before any test runs, so that nbval's kernels, which inherit the environment
when they start, see the test stack too. ``make test-fast`` collects the unit tier alone and starts
no server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT = Path(__file__).parent / "tests" / "unit"
NEEDS_THE_STACK = (
    "This test asks for the session's stack ({name}), which the unit tier never starts: move the test to "
    "tests/integration/, or make it need no database and no API."
)

_stack: dict = {}


def needs_stack(item: pytest.Item) -> bool:
    return not Path(str(item.path)).is_relative_to(UNIT)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.getoption("collectonly") or not any(map(needs_stack, session.items)):
        return
    from harness.stack import temporary_stack

    context = temporary_stack()
    _stack["context"] = context
    _stack["settings"] = context.__enter__()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    context = _stack.pop("context", None)
    if context is not None:
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def settings(request):
    if "settings" not in _stack:
        raise pytest.UsageError(NEEDS_THE_STACK.format(name=request.fixturename))
    return _stack["settings"]


@pytest.fixture(scope="session")
def source_engine(settings):
    from etl_lib.storage.engines import engine_for

    return engine_for(settings.source_url)


@pytest.fixture(scope="session")
def target_engine(settings):
    from etl_lib.storage.engines import engine_for

    return engine_for(settings.target_url)


@pytest.fixture(scope="session")
def api(settings):
    import httpx

    with httpx.Client(base_url=settings.api_base_url, timeout=10) as client:
        yield client
