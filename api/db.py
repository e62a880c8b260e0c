"""The API's database access: a read-only engine with a statement timeout."""

from __future__ import annotations

from functools import lru_cache

from fastapi import Request
from sqlalchemy import Engine, create_engine

STATEMENT_TIMEOUT_MS = 30_000


@lru_cache(maxsize=4)
def read_only_engine(url: str) -> Engine:
    """Every session is read-only and bounded in time, whatever role the URL names."""
    options = f"-c default_transaction_read_only=on -c statement_timeout={STATEMENT_TIMEOUT_MS} -c TimeZone=UTC"
    return create_engine(url, pool_pre_ping=True, connect_args={"options": options})


def get_engine(request: Request) -> Engine:
    return request.app.state.engine
