"""Executing notebooks with papermill in the project's kernel: the audit report of a run
(``run_notebook``), and any other notebook of the project (``execute``).

A report is never half-written and never stale. Before the kernel starts, the report's folder must
accept a new file (else ``ReportWriteError``: nothing runs); the previous report of that name is
then moved aside to ``<name>.previous.ipynb`` (and its HTML export, derived from it, removed), so
a run that dies leaves no report that looks like its own. papermill writes into a hidden
temporary file in the same folder, which is renamed to the report when the notebook has finished,
with or without a failed cell; ``<name>.previous.ipynb`` is then removed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sys
import tempfile
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


def report_path(run_date: dt.date, settings: Settings) -> Path:
    return settings.runs_dir / f"{run_date.isoformat()}.ipynb"


@dataclass(frozen=True)
class NotebookRun:
    """An executed audit report: where it is, the run's ``key``, and the run's ``record`` (its ``etl_run``
    row, as ``storage.run_record.read_run`` gives it; None when the target could not be read)."""

    report: Path
    key: str
    record: dict | None


def run_notebook(
    run_date: dt.date | str,
    settings: Settings | None = None,
    output: Path | None = None,
    parameters: dict | None = None,
    *,
    key: str | None = None,
) -> NotebookRun:
    """Execute ``notebooks/etl.ipynb`` for the date into ``runs/<date>.ipynb`` under the run key ``key``
    (made when None); return the report and the run's record.

    The record is the one account of the run: afterwards it names the report and, when the notebook
    failed, whether the day's data was written (``status``) and why the report is not the run's
    (``report_error``). A notebook that failed before the ETL ran leaves a failed record of its own.
    Raises ``NotebookRunError`` when a cell fails (the report still holds the error), ``KernelDiedError``
    or ``ReportWriteError``; each carries ``key`` and ``record`` as attributes.
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

    output = output or report_path(run_date, settings)
    key = key or new_key()
    parameters = {"date": run_date.isoformat(), "report_path": str(output), "run_key": key, **(parameters or {})}
    started = utc_now()
    try:
        execute(settings.notebook_path, output, parameters)
    except (NotebookRunError, KernelDiedError, ReportWriteError) as exc:
        exc.key, exc.record = key, None
        if not (isinstance(exc, ReportWriteError) and not exc.ran):  # else nothing ran: nothing to record
            exc.record = _settle(settings, run_date, key, output, started, exc)
        raise
    return NotebookRun(output, key, _settle(settings, run_date, key, output, started, None))


def _settle(
    settings: Settings, run_date: dt.date, key: str, output: Path, started: dt.datetime, failure: EtlError | None
) -> dict | None:
    """Bring the run's record in line with how its notebook ended, and return it (None if the target
    cannot be read: the failure then says so)."""
    from ..storage.engines import target_engine
    from ..storage.run_record import RunRecord, read_run, record_report

    try:
        engine = target_engine(settings)
        record = read_run(engine, key, report=str(output), since=started)
        if record is not None:
            key = record["key"]
        if failure is None:
            return record
        kept = output if isinstance(failure, NotebookRunError) else None  # the report shows the error
        problem = str(failure).partition(FIX_SEPARATOR)[0]
        if record is None:  # the notebook failed before the ETL could record the run
            RunRecord(run_date, key=key, report=None if kept is None else str(kept)).write(
                engine, RunStatus.FAILED, problem
            )
        elif record["status"] == RunStatus.SUCCEEDED:  # the data was written; the report is not the run's
            record_report(engine, key, None if kept is None else str(kept), problem)
        elif kept is None:  # a failed run whose report did not survive
            record_report(engine, key, None, record["error"])
        return read_run(engine, key)
    except Exception as exc:  # the target itself may be what failed
        if failure is not None:
            failure.add_note(f"The run's record in the target could not be read or completed: {exc}")
        return None


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
    try:
        os.replace(partial, output)
    except OSError as exc:
        raise ReportWriteError(output, _reason(exc), ran=True) from None
    previous_report(output).unlink(missing_ok=True)


def _reason(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def execute(notebook: Path, output: Path, parameters: dict) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (in this environment's kernel, from the
    notebook's folder), atomically (see the module's docstring). Raises ``ReportWriteError`` when
    ``output`` cannot be written (before the kernel starts, or when saving it at the end),
    ``NotebookRunError`` when a cell fails (``output`` shows the error) and ``KernelDiedError``
    when the kernel dies."""
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    partial = _claim(output)
    try:
        failure = None
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
            failure = NotebookRunError(output, exc.ename, exc.evalue)
        except DeadKernelError as exc:
            raise KernelDiedError(notebook, output, str(exc)) from None
        except RuntimeError as exc:  # jupyter_client, when the kernel dies while starting
            if "Kernel died" not in str(exc):
                raise
            raise KernelDiedError(notebook, output, str(exc)) from None
        except OSError as exc:  # saving the report failed, unless the error is about another file
            if partial.exists() and exc.filename != str(partial):
                raise
            raise ReportWriteError(output, _reason(exc), ran=True) from None
        _publish(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    if failure is not None:
        raise failure
    return output
