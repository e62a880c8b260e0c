"""The one error hierarchy of the project.

In the style of papermill's ``PapermillExecutionError``: every error keeps the facts of the
failure as attributes (the date, the URL, the HTTP status, the path ...) and renders its message
from them, so a program can read ``error.url`` while a person reads ``str(error)``: what went
wrong, then a line ``What to do: ...``. The CLI, the audit notebook and Dagster show
``str(error)`` and nothing else.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

FIX_SEPARATOR = "\n  What to do: "  # between what went wrong and what to do, in every message


class EtlError(Exception):
    """Base of every error the project raises on purpose: ``problem`` and ``fix`` are its message."""

    exit_code = 1

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.problem}{FIX_SEPARATOR}{self.fix}" if self.fix else self.problem

    def _render_traceback_(self) -> list[str]:
        """What IPython (a notebook, the audit report) shows for this error: the message and its notes,
        not a traceback through the library."""
        return [f"{type(self).__name__}: {self}", *getattr(self, "__notes__", ())]

    def __reduce__(self):  # picklable across worker processes, whatever the subclass's signature
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[EtlError], state: dict) -> EtlError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, str(error))
    return error


class ConfigurationError(EtlError):
    """A setting or the environment is wrong (bad URL, bad threshold, missing notebook, port taken);
    ``setting`` names it when there is one."""

    def __init__(self, problem: str, fix: str | None = None, *, setting: str | None = None) -> None:
        self.setting = setting
        super().__init__(problem, fix)


class FarmChoiceError(ConfigurationError):
    """A run names no farm of the source: none while the source holds several, or one it does not have. Not a
    run (like a day without data): refused before anything is written or recorded. Exit code 2, like any input
    a person typed wrong."""

    exit_code = 2

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem, fix, setting="farm")


class InvalidDateError(EtlError):
    """The run date is malformed, impossible or in the future; ``value`` is what was given."""

    exit_code = 2

    def __init__(self, problem: str, fix: str, *, value: object = None) -> None:
        self.value = value
        super().__init__(problem, fix)


class StackError(EtlError):
    """The embedded stack (PostgreSQL server or API process) cannot be started or reached."""


class SourceUnavailableError(EtlError):
    """The API at ``url`` could not be reached, or answered 5xx, ``attempts`` times in a row over ``seconds``."""

    def __init__(
        self, url: str, attempts: int, *, status: int | None = None, detail: str, seconds: float | None = None
    ) -> None:
        self.url, self.attempts, self.status, self.detail, self.seconds = url, attempts, status, detail, seconds
        what = f"answered HTTP {status} ({detail})" if status is not None else f"could not be reached ({detail})"
        over = f" over {seconds:.1f} s" if seconds is not None else ""
        super().__init__(
            f"The API at {url} {what}, {attempts} attempt(s) in a row{over}.",
            "Check which part is down with `etl doctor`; start the stack with `etl stack up`, "
            "or point ETL_API_URL at a running API. Nothing was written.",
        )


class BrokerUnavailableError(EtlError):
    """The Celery broker at ``url`` (password hidden) could not be reached for ``waited`` seconds (0: it went
    away mid-run); ``detail`` is the transport's reason. Nothing of the run's steps waiting for it ran."""

    def __init__(self, url: str, waited: float, detail: str) -> None:
        self.url, self.waited, self.detail = url, waited, detail
        when = f"could not be reached for {waited:g} s" if waited else "went away while the run was under way"
        super().__init__(
            f"The broker at {url} (ETL_CELERY_BROKER_URL) {when}: {detail}. The steps it carries to the workers "
            "could not run.",
            "Start RabbitMQ (or point ETL_CELERY_BROKER_URL at the broker the workers of `etl dagster worker` use); "
            "Dagster's run retries launch the run again, and a day already written is not written twice.",
        )


class SourceRequestError(EtlError):
    """The API refused the request (4xx): a bug or a misconfiguration, not worth retrying."""

    def __init__(self, url: str, status: int, detail: str) -> None:
        self.url, self.status, self.detail = url, status, detail
        super().__init__(
            f"The API refused GET {url} with HTTP {status}: {detail}",
            "Check ETL_API_TOKEN and the request parameters; this is not retried.",
        )


class SourceChangedError(EtlError):
    """The source was replaced (``etl seed``, a re-import) while a run of ``run_date`` read it: the farm
    came from version ``farm_version`` of the source, the samples from ``samples_version``; ``reads``
    times in a row when the run gave up (0 while it still reads again)."""

    def __init__(self, farm_version: int, samples_version: int, run_date: dt.date, reads: int = 0) -> None:
        self.farm_version, self.samples_version, self.run_date, self.reads = (
            farm_version,
            samples_version,
            run_date,
            reads,
        )
        times = f" {reads} time(s) in a row" if reads else ""
        super().__init__(
            f"The source changed while the run of {run_date.isoformat()} read it{times}: the farm came from "
            f"version {farm_version} of the source, the samples from version {samples_version}. One source's "
            "models are never checked against another's samples, so nothing was written.",
            "Re-run the date once the source is no longer being replaced (a seed or an import under way).",
        )


class OlderApiError(EtlError):
    """The API at ``url`` answered without something this ETL relies on (``missing``): it is older."""

    def __init__(self, url: str, missing: str) -> None:
        self.url, self.missing = url, missing
        super().__init__(
            f"The API's answer to GET {url} has no {missing}: the API is older than this ETL, which then cannot "
            "tell whether the farm and the samples come from one state of the source. Nothing was written.",
            "Run the API of this version of wind-etl (`etl stack down` and `etl stack up` restart the embedded "
            "one from this checkout; redeploy it elsewhere), then re-run the date.",
        )


class NoSourceDataError(EtlError):
    """The source has no rows for ``run_date`` (the UTC day ``[start, end)``) of the farm ``farm`` (None: of any
    farm); ``covers`` says what it covers, when that is known (e.g. "the source covers 2024-10-01 to 2024-10-10
    (57,565 samples)")."""

    def __init__(
        self,
        run_date: dt.date,
        start: dt.datetime,
        end: dt.datetime,
        *,
        covers: str | None = None,
        farm: str | None = None,
    ) -> None:
        self.run_date, self.start, self.end, self.covers, self.farm = run_date, start, end, covers, farm
        super().__init__(
            "The source has no samples"
            + ("" if farm is None else f" of farm {farm}")
            + f" for {run_date.isoformat()} ([{start.isoformat()}, {end.isoformat()}))"
            + (f"; {covers}." if covers else "."),
            "Pick a date inside the source's coverage"
            + ("" if covers else " (GET /coverage on the API)")
            + ", or fill the source (`etl seed`). Nothing was written.",
        )


class BadSourceDataError(EtlError):
    """The API answered for ``[start, end)``, but the payload is not what the ETL expects (``reason``)."""

    def __init__(self, start: dt.datetime, end: dt.datetime, reason: str) -> None:
        self.start, self.end, self.reason = start, end, reason
        super().__init__(
            f"The API's answer for [{start.isoformat()}, {end.isoformat()}) is unusable: {reason}.",
            "Nothing was written. Check the API version and the source data, then re-run the date.",
        )


class IncompleteAnswerError(BadSourceDataError):
    """The API's answer for ``[start, end)`` is not whole (``what``: cut short, no end-of-stream marker,
    fewer rows than it states): a transient fault, so the ETL asks again; never used."""

    def __init__(self, start: dt.datetime, end: dt.datetime, what: str) -> None:
        self.what = what
        super().__init__(start, end, f"it is incomplete: {what}")


class TargetWriteError(EtlError):
    """Writing ``run_date`` to the target database ``target`` (password hidden) failed; nothing was kept."""

    def __init__(self, problem: str, fix: str, *, run_date: dt.date | None = None, target: str | None = None) -> None:
        self.run_date, self.target = run_date, target
        super().__init__(problem, fix)


class DayLockedError(TargetWriteError):
    """Another run of ``run_date`` held the day's lock in the target for longer than ``waited`` seconds
    (``ETL_DAY_LOCK_WAIT_S``); ``holder`` describes its session (PostgreSQL pid, application name:
    the other run's key and process). Nothing of this run was written."""

    def __init__(self, run_date: dt.date, waited: float, holder: str) -> None:
        self.waited, self.holder = waited, holder
        super().__init__(
            f"Another run of {run_date.isoformat()} has been writing that day for more than {waited:.0f} s: the "
            f"day's lock is held by {holder}. Nothing of this run was written.",
            "Wait for that run to finish, then re-run the date. If it is stuck (its process stopped or hung), "
            "stop that process, or end its session in the target (SELECT pg_terminate_backend(<pid>)); the "
            "target also ends a session idle in its transaction after ETL_TARGET_IDLE_IN_TRANSACTION_TIMEOUT_S. "
            "ETL_DAY_LOCK_WAIT_S sets how long a run waits.",
            run_date=run_date,
        )


class SchemaVersionError(EtlError):
    """The ``database`` ("source" or "target") is at a schema revision (``found``) this version of the
    code does not know: a newer version migrated it (``newest``: the newest this code knows)."""

    def __init__(self, database: str, found: str, newest: str) -> None:
        self.database, self.found, self.newest = database, found, newest
        super().__init__(
            f"The {database} database is at schema revision {found!r}, which this version of wind-etl does not "
            f"know (the newest it knows is {newest}): a newer version of wind-etl migrated it. Nothing was "
            "changed in it.",
            f"Run the version of wind-etl that migrated it (update this checkout, e.g. `git pull` and `make "
            f"install`), or point {database.upper()}_DATABASE_URL at a database of this version. A schema is never "
            "migrated back.",
        )


class QueryError(EtlError):
    """A query of the target's results asks for something malformed or absent (empty range, unknown signal)."""


class DatabaseError(EtlError):
    """A database (``database``: "source", "target", or None when the command cannot tell) failed;
    ``reason`` is the driver's message without SQL text or parameters; ``connection``: it could not
    be reached at all."""

    def __init__(self, database: str | None, reason: str, *, connection: bool) -> None:
        self.database, self.reason, self.connection = database, reason, connection
        which = f"The {database} database" if database else "A database"
        variable = f"{database.upper()}_DATABASE_URL" if database else "SOURCE_DATABASE_URL or TARGET_DATABASE_URL"
        if connection:
            fix = (
                f"Check which part is down with `etl doctor`; start the embedded stack with `etl stack up`, "
                f"or point {variable} at a running PostgreSQL."
            )
        else:
            fix = (
                f"Check that {variable} names the right database and that its schema is current (`etl init`); "
                "`etl --verbose` shows the full error."
            )
        super().__init__(f"{which} failed: {reason}", fix)


def _data_written(written: bool | None, run_date: dt.date | None, run_id: int | None) -> str:
    """What a run's record says of the day's data, as a sentence (empty when the run was not settled)."""
    if run_date is None:
        return ""
    day, record = run_date.isoformat(), f" (etl_run {run_id})" if run_id is not None else ""
    if written:
        return f" The data of {day} was written to the target{record}."
    if written is False:
        return f" Nothing of {day} was written to the target{record}."
    return f" Whether the data of {day} was written is unknown: the target's etl_run could not be read."


class NotebookRunError(EtlError):
    """A cell of the notebook failed with ``ename: evalue``; the executed notebook ``report`` shows where.

    When ``evalue`` is one of our own messages, its "What to do" is kept and the report's path added
    to it, so the message has one problem and one fix. Once the run is settled (``run_date``), it says
    whether the day's data was written (``data_written``, from the run's record ``run_id``): when it
    was, the failure is the report's alone."""

    def __init__(
        self,
        report: Path,
        ename: str,
        evalue: str,
        *,
        data_written: bool | None = None,
        run_date: dt.date | None = None,
        run_id: int | None = None,
    ) -> None:
        self.report, self.ename, self.evalue = report, ename, evalue
        self.data_written, self.run_date, self.run_id = data_written, run_date, run_id
        problem, _, fix = clean_message(evalue).partition(FIX_SEPARATOR)
        if data_written:
            fix = (
                fix
                or f"This is probably a bug in the report (the data is fine): report it with the executed notebook, "
                f"and run `etl run {run_date.isoformat()}` again once it is fixed."
            )
            fix = f"The data needs no re-run. {fix.rstrip()} The executed notebook with the error is {report}."
        else:
            fix = fix or "Check which part is down with `etl doctor`, then re-run the date."
            fix = f"{fix.rstrip()} The executed notebook with the error is {report}."
        super().__init__(
            f"The ETL notebook failed with {ename}: {problem}" + _data_written(data_written, run_date, run_id), fix
        )


class UnreadableReportError(EtlError):
    """The executed report ``path`` cannot be read as a notebook (``reason``: empty, cut short, not a notebook)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(
            f"The report {path} is unreadable: {reason}.",
            "Run its day again to make the report anew (`etl run DATE`), or remove the file; the day's data in the "
            "target is not affected.",
        )


class InputFileError(EtlError):
    """A file given to a command (``path``) cannot be read as what it should be; ``row`` is the data row
    (1 = the first after the header) when one row is at fault."""

    exit_code = 2

    def __init__(self, path: Path | str, problem: str, fix: str, *, row: int | None = None) -> None:
        self.path, self.row = Path(path), row
        where = f"{path}, data row {row}" if row is not None else str(path)
        super().__init__(f"The file {where}: {problem}.", fix)


class KernelDiedError(EtlError):
    """The Jupyter kernel running ``notebook`` died (killed, out of memory) before it finished; no report.
    Once the run is settled (``run_date``), it says whether the day's data was written."""

    def __init__(
        self,
        notebook: Path,
        report: Path,
        reason: str,
        *,
        data_written: bool | None = None,
        run_date: dt.date | None = None,
        run_id: int | None = None,
    ) -> None:
        self.notebook, self.report, self.reason = notebook, report, reason
        self.data_written, self.run_date, self.run_id = data_written, run_date, run_id
        said = _data_written(data_written, run_date, run_id)
        earlier = f" ({report} is an earlier run's)" if Path(report).exists() else f" ({report})"
        super().__init__(
            f"The kernel running {notebook.name} died before the notebook finished ({clean_message(reason)}); "
            f"the run left no report{earlier}.{said}",
            "It was killed from outside or ran out of memory: check free memory (and `dmesg`), then run it again."
            + ("" if said else " The target's etl_run says whether the day's data was written."),
        )


class ReportWriteError(ConfigurationError):
    """The notebook ``report`` cannot be written (``reason``): checked before the kernel starts, so
    nothing ran; or, with ``ran``, saving it failed after the notebook had run. Once that run is settled
    (``run_date``), it says whether the day's data was written (``data_written``, from ``run_id``)."""

    def __init__(
        self,
        report: Path,
        reason: str,
        *,
        ran: bool = False,
        data_written: bool | None = None,
        run_date: dt.date | None = None,
        run_id: int | None = None,
    ) -> None:
        self.report, self.reason, self.ran = report, reason, ran
        self.data_written, self.run_date, self.run_id = data_written, run_date, run_id
        where = (
            f"Make {report.parent} writable (or free space there), or point ETL_RUNS_DIR at a folder you can write to"
        )
        if ran:
            said = _data_written(data_written, run_date, run_id)
            earlier = f" ({report.name} there is still an earlier run's report)" if Path(report).exists() else ""
            problem = (
                f"The notebook ran, but its report {report} could not be saved: {reason.rstrip('.')}{earlier}.{said}"
            )
            if data_written:
                fix = f"{where}, then run it again to make the report (the data needs no re-run)."
            elif said:
                fix = f"{where}, then run it again."
            else:
                fix = f"{where}, then run it again. For an ETL run, the target's etl_run says whether the day was written."
        else:
            problem = f"The report {report} cannot be written in the folder {report.parent}: {reason}."
            fix = f"{where}. Nothing was run and nothing was written."
        super().__init__(problem, fix, setting="ETL_RUNS_DIR")


# SQLAlchemy appends the statement, its parameters and a link to its error page to a driver's
# message ("[SQL: ...]", "[parameters: ...]", "(Background on this error at: ...)"), and puts the
# driver's class in front of it ("(psycopg2.errors.X) ...").
_SQL_SUFFIX = re.compile(r"\[(?:SQL|parameters): ")
_BACKGROUND = re.compile(r"\s*\(Background on this error at: [^)]*\)")
_DRIVER_CLASS = re.compile(r"\((?:psycopg2|psycopg|sqlalchemy)[\w.]*\) ")
_BLANK_LINES = re.compile(r"\n\s*\n")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)


def clean_message(text: str) -> str:
    """A message fit to print: without SQL statements, their parameters, SQLAlchemy's links, the
    driver's class name, or a password inside a URL. Each part (problem, "What to do") is cut at its
    first statement, since SQLAlchemy puts the statement and parameters at the end of its message."""
    parts = []
    for part in str(text).split(FIX_SEPARATOR):
        found = _SQL_SUFFIX.search(part)
        part = part[: found.start()] if found else part
        part = _DRIVER_CLASS.sub("", _BACKGROUND.sub("", part))
        part = _BLANK_LINES.sub("\n", _URL_PASSWORD.sub(r"\1***@", part))
        parts.append(part.strip())
    return FIX_SEPARATOR.join(parts)


class NoCompleteBucketError(NoSourceDataError):
    """``run_date`` is not over yet in the source and none of its 10-minute buckets is complete: its newest sample
    of the farm is ``newest``. No run (like a day without samples): nothing is written or recorded."""

    def __init__(self, run_date: dt.date, start: dt.datetime, end: dt.datetime, newest, farm: str | None = None):
        super().__init__(run_date, start, end, farm=farm)
        self.newest = newest
        shown = "none yet" if newest is None else newest.isoformat()
        self.problem = (
            f"{run_date.isoformat()}"
            + ("" if farm is None else f" of farm {farm}")
            + f" has no complete 10-minute bucket yet (the source's newest sample of it: {shown})."
        )
        self.fix = "Run it again once its first 10 minutes are in the source (etl sync does). Nothing was written."
        Exception.__init__(self, str(self))
