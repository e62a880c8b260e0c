"""The API's database engines: read-only sessions in UTC with a statement timeout and an
idle-in-transaction timeout, whatever the role; a bounded pool that never waits long."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000  # the API reads a snapshot's chunks back to back
CONNECT_TIMEOUT_S = 5


def read_only_engine(url: str, statement_timeout_ms: int, *, pool_size: int = 5, pool_timeout: float = 30.0) -> Engine:
    """Every session is read-only and bounded in time, whatever role the URL names. At most
    ``pool_size`` connections; a checkout waits at most ``pool_timeout`` seconds, then raises
    SQLAlchemy's ``TimeoutError`` (the app answers 503 with Retry-After)."""
    options = (
        f"-c default_transaction_read_only=on -c statement_timeout={statement_timeout_ms} "
        f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS} -c TimeZone=UTC"
    )
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        connect_args={"options": options, "connect_timeout": CONNECT_TIMEOUT_S},
    )
