"""A database's failure as the project's own error: ``DatabaseError`` naming the database, with the
driver's reason (no SQL text, parameters or password) and what to do. Used wherever a database error
would otherwise reach a person: the pipeline (a notebook's cell shows it), the CLI (``ops.failures``)."""

from __future__ import annotations

from ..core.errors import DatabaseError, clean_message


def database_error(exc: BaseException, database: str | None = None) -> DatabaseError | None:
    """``exc`` as a ``DatabaseError`` of ``database`` ("source", "target" or None) when it is a database's
    failure (SQLAlchemy's, the driver's, or psycopg2's ``SystemError`` over a dying connection's error);
    None for anything else."""
    import psycopg2
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    if isinstance(exc, SystemError) and isinstance(exc.__cause__, psycopg2.Error):
        exc = exc.__cause__
    if not isinstance(exc, (SQLAlchemyError, psycopg2.Error)):
        return None
    driver = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    reason = " ".join(line.strip() for line in clean_message(str(driver)).splitlines() if line.strip())
    return DatabaseError(
        database, reason or type(exc).__name__, connection=isinstance(driver, psycopg2.OperationalError)
    )
