"""The one error hierarchy of the ETL.

Every error a user can cause or meet names the input, what went wrong and what to do,
so the CLI, the audit notebook and Dagster can show ``str(error)`` and nothing else.
"""

from __future__ import annotations


class EtlError(Exception):
    """Base of every error the ETL raises on purpose."""

    exit_code = 1

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.problem}\n  What to do: {self.fix}" if self.fix else self.problem


class ConfigurationError(EtlError):
    """A setting or the environment is wrong (bad URL, missing tool, port taken)."""


class InvalidDateError(EtlError):
    """The run date is malformed, impossible or in the future."""

    exit_code = 2


class StackError(EtlError):
    """The embedded stack (PostgreSQL server or API process) cannot be started or reached."""


class SourceUnavailableError(EtlError):
    """The API could not be reached or kept failing after the retries."""


class SourceRequestError(EtlError):
    """The API refused the request (4xx): a bug or misconfiguration, not worth retrying."""


class NoSourceDataError(EtlError):
    """The source has no rows for the requested day."""


class BadSourceDataError(EtlError):
    """The API answered, but the payload is not what the ETL expects."""


class TargetWriteError(EtlError):
    """Writing to the target failed; the transaction was rolled back."""


class QueryError(EtlError):
    """A query of the target's results asks for something malformed or absent (empty range, unknown signal)."""
