"""Executing notebooks with papermill in the project's kernel: the audit report of a run
(``run_notebook``), and any other notebook of the project (``execute``).

A report is never half-written: before the kernel starts, the report's folder must accept a new file
(else ``ReportWriteError``: nothing runs); papermill writes into a hidden temporary file in that
folder, which is renamed to the report when the notebook has finished, with or without a failed cell.

**The audit trail** (``run_notebook`` into the runs folder): every run keeps its own report, and
``runs/<date>.ipynb`` is the report of the last succeeded run of the whole farm for that date. A source of
several farms (a fleet) keeps each farm's trail in a folder of its own, ``runs/<farm>/``, named the same way. Which
of the two names a run's report gets is known only when its notebook has ended (its record says
whether the day was written), so the temporary file is published under it afterwards:
``runs/<date>.ipynb`` for a succeeded run of the whole farm whose notebook ran to its end, else
``runs/<date>.<run key>.ipynb`` (a run of named turbines, a failed run, a report with an error),
beside it and never in its place. A run that dies leaves ``runs/<date>.ipynb`` as it was. Any other
output (``output=``, ``execute``) is the caller's: the earlier file of that name is moved aside to
``<name>.previous.ipynb`` while the notebook runs (and its HTML export, derived from it, removed), so a
run that dies leaves no report that looks like its own, and removed when the new one is in place.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config.settings import Settings, get_settings
from ..core.contract import RunStatus
from ..core.dates import parse_run_date, utc_now
from ..core.errors import (
    FIX_SEPARATOR,
    ConfigurationError,
    EtlError,
    KernelDiedError,
    NotebookRunError,
    ReportWriteError,
    clean_message,
)

KERNEL_NAME = "wind-etl"
KERNEL_DISPLAY_NAME = "Python (wind-etl)"


def kernel_argv() -> list[str]:
    """How the kernel starts: this environment's Python running ``etl_lib.notebook.kernel`` (ipykernel,
    without the log lines every successful headless run printed)."""
    return [sys.executable, "-m", "etl_lib.notebook.kernel", "-f", "{connection_file}"]


def ensure_kernel() -> str:
    """Register this environment's Jupyter kernel (``wind-etl``) if it is missing, belongs to another
    environment or starts otherwise than ``kernel_argv``, so papermill and nbval find the right one."""
    from jupyter_client.kernelspec import KernelSpecManager

    manager = KernelSpecManager()
    folder = manager.find_kernel_specs().get(KERNEL_NAME)
    ours = bool(folder) and Path(folder).resolve().is_relative_to(Path(sys.prefix).resolve())
    if ours:
        try:
            if json.loads((Path(folder) / "kernel.json").read_text())["argv"] == kernel_argv():
                return KERNEL_NAME
        except (OSError, ValueError, KeyError):
            pass  # unreadable: written anew below
    from ipykernel.kernelspec import write_kernel_spec

    try:
        with tempfile.TemporaryDirectory() as scratch:
            overrides = {"argv": kernel_argv(), "display_name": KERNEL_DISPLAY_NAME}
            spec = write_kernel_spec(Path(scratch) / KERNEL_NAME, overrides=overrides)
            manager.install_kernel_spec(spec, KERNEL_NAME, prefix=sys.prefix)
    except OSError:
        if not ours:
            raise
        # An environment we may not write to (an image's, installed by root) keeps the kernel it has.
    return KERNEL_NAME


def trail_folder(settings: Settings, folder: str | None = None) -> Path:
    """Where a farm's audit trail lies: the runs folder (a source of one farm), or ``runs/<folder>/`` (a farm of a
    fleet: ``folder`` is its name)."""
    return settings.runs_dir if folder is None else settings.runs_dir / folder


def report_path(run_date: dt.date, settings: Settings, folder: str | None = None) -> Path:
    """``runs/<date>.ipynb`` (``runs/<farm>/<date>.ipynb`` for a farm of a fleet, ``folder``: its name): the
    report of the date's last succeeded run of the whole farm."""
    return trail_folder(settings, folder) / f"{run_date.isoformat()}.ipynb"


def run_report_path(run_date: dt.date, key: str, settings: Settings, folder: str | None = None) -> Path:
    """``runs/<date>.<key>.ipynb`` (under ``runs/<farm>/`` for a farm of a fleet): the report of the run ``key``
    when it does not stand for the date (a run of named turbines, a failed run, a report with an error)."""
    return trail_folder(settings, folder) / f"{run_date.isoformat()}.{key}.ipynb"


@dataclass(frozen=True)
class NotebookRun:
    """An executed audit report: where it is, the run's ``key``, and the run's ``record`` (its ``etl_run``
    row, as ``storage.run_record.read_run`` gives it; None when the target could not be read)."""

    report: Path
    key: str
    record: dict | None

    @property
    def ok(self) -> bool:
        """Whether the run did all it was asked, as its record says: the day written and the report its own.
        ``etl run`` exits 0 exactly then."""
        return run_ok(self.record)


def run_ok(record: dict | None) -> bool:
    """A run's record says it succeeded and its report (if any) is complete."""
    return bool(record) and record.get("status") == RunStatus.SUCCEEDED and not record.get("report_error")


def run_notebook(
    run_date: dt.date | str,
    settings: Settings | None = None,
    output: Path | None = None,
    parameters: dict | None = None,
    *,
    key: str | None = None,
    farm: str | None = None,
    fleet: bool = False,
) -> NotebookRun:
    """Execute ``notebooks/etl.ipynb`` for the date of the farm ``farm`` (the notebook's parameter; None: the
    source's only farm) under the run key ``key`` (made when None) and return the report and the run's record.
    The report goes into the runs folder's audit trail (see the module's docstring: ``runs/<date>.ipynb`` for a
    succeeded run of the whole farm, else ``runs/<date>.<key>.ipynb``; under ``runs/<farm>/`` when ``fleet``,
    the source holding several farms), or to ``output`` when one is given.

    The record is the one account of the run: afterwards it names the report and, when the notebook
    failed, whether the day's data was written (``status``) and why the report is not the run's
    (``report_error``). A notebook that failed before the ETL ran leaves a failed record of its own.
    Raises ``NotebookRunError`` when a cell fails (the report still holds the error), ``KernelDiedError``
    or ``ReportWriteError``; each carries ``key`` and ``record`` as attributes, and says whether the
    day's data was written.
    """
    settings = settings or get_settings()
    run_date = parse_run_date(run_date)
    if not settings.notebook_path.exists():
        raise ConfigurationError(
            f"The ETL notebook {settings.notebook_path} does not exist.",
            "Run from a checkout of the project, or set ETL_NOTEBOOK to the notebook's path.",
            setting="ETL_NOTEBOOK",
        )
    from ..storage.run_record import new_key

    key = key or new_key()
    whole_farm = not (parameters or {}).get("turbines")
    if fleet and farm is None:
        raise ConfigurationError(
            "A report of a fleet's farm goes into the farm's folder, and no farm was named.",
            "Name the farm (run_notebook(..., farm=NAME)).",
            setting="farm",
        )
    folder = farm if fleet else None
    own = run_report_path(run_date, key, settings, folder)
    told = output or (report_path(run_date, settings, folder) if whole_farm else own)  # the notebook's report_path
    named = {} if farm is None else {"farm": farm}
    parameters = {"date": run_date.isoformat(), **named, "report_path": str(told), "run_key": key, **(parameters or {})}
    started = utc_now()

    def destination(failed: bool) -> Path:
        """Where the report goes, now that its notebook has ended (``failed``: with an error)."""
        if output is not None or failed or not whole_farm:
            return output or own
        record = _record(settings, key, told, started)
        return told if record is not None and record["status"] == RunStatus.SUCCEEDED else own

    try:
        report = execute(settings.notebook_path, told, parameters, destination=destination)
    except (NotebookRunError, KernelDiedError, ReportWriteError) as exc:
        exc.key, exc.record = key, None
        if isinstance(exc, ReportWriteError) and not exc.ran:  # nothing ran: nothing to record
            raise
        exc.record = _settle(settings, run_date, key, told, started, exc)
        raise _told(exc, run_date) from None
    return NotebookRun(report, key, _settle(settings, run_date, key, told, started, None, report))


def _record(settings: Settings, key: str, told: Path, started: dt.datetime) -> dict | None:
    """The run's record (by its key, or by its report for a notebook that does not hand the key to
    ``run_etl``); None when there is none or the target cannot be read (``_settle`` then says so)."""
    from ..storage.engines import target_engine
    from ..storage.run_record import read_run

    try:
        return read_run(target_engine(settings), key, report=str(told), since=started)
    except Exception:
        return None


def _settle(
    settings: Settings,
    run_date: dt.date,
    key: str,
    told: Path,
    started: dt.datetime,
    failure: EtlError | None,
    report: Path | None = None,
) -> dict | None:
    """Bring the run's record in line with how its notebook ended (``report``: where its report was
    published), and return it (None if the target cannot be read: the failure then says so)."""
    from ..storage.engines import target_engine
    from ..storage.run_record import RunRecord, read_run, record_report

    try:
        engine = target_engine(settings)
        record = read_run(engine, key, report=str(told), since=started)
        if record is not None:
            key = record["key"]
        if failure is None:
            if record is not None and record["report"] != str(report):
                record_report(engine, key, str(report), record["report_error"])
                record = read_run(engine, key)
            return record
        kept = failure.report if isinstance(failure, NotebookRunError) else None  # the report shows the error
        problem = str(failure).partition(FIX_SEPARATOR)[0]
        if record is None:  # the notebook failed before the ETL recorded a run (or refused the day): its error
            if isinstance(failure, NotebookRunError):
                cause, ours, _ = clean_message(failure.evalue).partition(FIX_SEPARATOR)
                problem = cause if ours else f"{failure.ename}: {cause}"
            RunRecord(run_date, key=key, report=None if kept is None else str(kept)).write(
                engine, RunStatus.FAILED, problem
            )
        elif record["status"] == RunStatus.SUCCEEDED:  # the data was written; the report is not the run's
            record_report(engine, key, None if kept is None else str(kept), problem)
        elif kept is None:  # a failed run whose report did not survive
            record_report(engine, key, None, problem)
        else:  # a failed run: its report, which shows the error, is its own
            record_report(engine, key, str(kept), None)
        return read_run(engine, key)
    except Exception as exc:  # the target itself may be what failed
        if failure is not None:
            failure.add_note(f"The run's record in the target could not be read or completed: {exc}")
        return None


def _told(exc: EtlError, run_date: dt.date) -> EtlError:
    """``exc`` saying, from the run's record, whether the day's data was written."""
    record = exc.record
    written = None if record is None else record["status"] == RunStatus.SUCCEEDED
    outcome = dict(data_written=written, run_date=run_date, run_id=None if record is None else record["id"])
    if isinstance(exc, NotebookRunError):
        told = NotebookRunError(exc.report, exc.ename, exc.evalue, **outcome)
    elif isinstance(exc, KernelDiedError):
        told = KernelDiedError(exc.notebook, exc.report, exc.reason, **outcome)
    else:
        told = ReportWriteError(exc.report, exc.reason, ran=True, **outcome)
    told.key, told.record = exc.key, record
    for note in getattr(exc, "__notes__", ()):
        told.add_note(note)
    return told


def previous_report(output: Path) -> Path:
    """Where the report ``output`` of an earlier run is kept while a new run of it is under way."""
    return output.with_name(f"{output.stem}.previous{output.suffix}")


def check_writable(output: Path) -> None:
    """Raise ``ReportWriteError`` unless the report ``output`` can be written (a backfill asks once)."""
    _new_partial(output).unlink()


def _new_partial(output: Path) -> Path:
    """A new, empty, hidden file beside ``output``, the proof that the folder accepts files."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if output.is_dir():
            raise IsADirectoryError(f"{output.name} is a folder")
        # Not mkstemp: its 0600 would become the report's mode; this one follows the umask.
        partial = output.with_name(f".{output.stem}.{secrets.token_hex(4)}.partial{output.suffix}")
        partial.open("x").close()
    except OSError as exc:
        raise ReportWriteError(output, _reason(exc)) from None
    return partial


def _claim(output: Path) -> Path:
    """Check that ``output`` can be written, before any work; move its earlier version aside; return
    the temporary file papermill writes into. Raises ``ReportWriteError``."""
    partial = _new_partial(output)
    try:
        if output.exists():
            os.replace(output, previous_report(output))
        output.with_suffix(".html").unlink(missing_ok=True)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ReportWriteError(output, _reason(exc)) from None
    return partial


def _publish(partial: Path, output: Path) -> None:
    """The finished report in place of ``output``, whose HTML export (of an earlier report) goes."""
    try:
        os.replace(partial, output)
        output.with_suffix(".html").unlink(missing_ok=True)
    except OSError as exc:
        raise ReportWriteError(output, _reason(exc), ran=True) from None
    previous_report(output).unlink(missing_ok=True)


def _reason(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


# A write that fails for want of room or of a working device names no file (``OSError.filename`` is
# None): the report papermill was saving, the only file it writes after the kernel has started.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


def execute(
    notebook: Path, output: Path, parameters: dict, *, destination: Callable[[bool], Path] | None = None
) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (in this environment's kernel, from the
    notebook's folder), atomically (see the module's docstring), and return where the report is.
    With ``destination``, the report is published, once the notebook has ended, where
    ``destination(failed)`` says (``failed``: a cell failed), and an earlier ``output`` is left alone.

    Raises ``ReportWriteError`` when the report cannot be written (before the kernel starts, or when
    saving it at the end), ``NotebookRunError`` when a cell fails (the report shows the error) and
    ``KernelDiedError`` when the kernel dies."""
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    partial = _claim(output) if destination is None else _new_partial(output)
    failure = None
    try:
        try:
            papermill.execute_notebook(
                str(notebook),
                str(partial),
                parameters=parameters,
                kernel_name=ensure_kernel(),
                cwd=str(notebook.parent),
                progress_bar=False,
                # Written once at the end (and with the error when a cell fails), not after every cell:
                # a report with figures is rewritten ~30 times otherwise, for a run of a few seconds.
                request_save_on_cell_execute=False,
            )
        except PapermillExecutionError as exc:  # papermill saved the notebook with the error
            failure = (exc.ename, exc.evalue)
        except DeadKernelError as exc:
            raise KernelDiedError(notebook, output, str(exc)) from None
        except RuntimeError as exc:  # jupyter_client, when the kernel dies while starting
            if "Kernel died" not in str(exc):
                raise
            raise KernelDiedError(notebook, output, str(exc)) from None
        except OSError as exc:  # saving the report failed, unless the error is about another file
            ours = not partial.exists() or exc.filename == str(partial)
            if not (ours or (exc.filename is None and exc.errno in _NO_ROOM)):
                raise
            # The name it would have had, had the notebook run to its end (the record knows the rest).
            report = output if destination is None else destination(False)
            raise ReportWriteError(report, _reason(exc), ran=True) from None
        report = output if destination is None else destination(failure is not None)
        _publish(partial, report)
    finally:
        partial.unlink(missing_ok=True)
    if failure is not None:
        raise NotebookRunError(report, *failure)
    return report
