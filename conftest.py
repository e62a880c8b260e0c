"""One embedded stack for the whole test session (tests/ and nbval of notebooks/), started before collection.

It starts in ``pytest_sessionstart`` (not in a fixture) so that nbval's kernels, which
inherit the environment when they start, see the test stack too.
"""

from __future__ import annotations

import httpx
import pytest

from etl_lib.config.settings import Settings
from etl_lib.storage.engines import engine_for
from tests.support.stack import temporary_stack

_stack = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    if session.config.getoption("collectonly"):
        return
    context = temporary_stack()
    _stack["context"] = context
    _stack["settings"] = context.__enter__()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    context = _stack.pop("context", None)
    if context is not None:
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return _stack["settings"]


@pytest.fixture(scope="session")
def source_engine(settings):
    return engine_for(settings.source_url)


@pytest.fixture(scope="session")
def target_engine(settings):
    return engine_for(settings.target_url)


@pytest.fixture(scope="session")
def api(settings):
    with httpx.Client(base_url=settings.api_base_url, timeout=10) as client:
        yield client
