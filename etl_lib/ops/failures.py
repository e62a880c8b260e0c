"""Any exception as one of the project's errors, for the CLI and the backfill summary: a message
with what to do, never a traceback, SQL text or a password (``core.errors.clean_message``)."""

from __future__ import annotations

from ..core.errors import ConfigurationError, EtlError, clean_message


def as_etl_error(exc: BaseException, database: str | None = None) -> EtlError:
    """``exc`` itself if it is ours; a database, file-system or unexpected error mapped to one.
    ``database`` ("source" or "target") names the database a command was using, when it knows."""
    if isinstance(exc, EtlError):
        return exc
    from ..storage.errors import database_error

    failed = database_error(exc, database)
    if failed is not None:
        return failed
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return ConfigurationError(
            f"A file operation failed: {exc.strerror or exc}{where}.",
            "Check that path and its permissions; ETL_RUNS_DIR and ETL_STACK_DIR choose where the project writes.",
        )
    return EtlError(
        f"Unexpected {type(exc).__name__}: {clean_message(str(exc)) or 'no message'}.",
        "This is probably a bug: run the command again as `etl --verbose …` for the traceback, and report it.",
    )
