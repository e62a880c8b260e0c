"""Execute the ETL notebook for a date with papermill: the audit report of that run."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from .dates import parse_run_date
from .errors import ConfigurationError, EtlError
from .settings import Settings, get_settings

KERNEL_NAME = "wind-etl"
KERNEL_DISPLAY_NAME = "Python (wind-etl)"


class NotebookRunError(EtlError):
    """A cell of the notebook failed; the executed notebook shows where and why."""

    def __init__(self, report: Path, ename: str, evalue: str) -> None:
        self.report, self.ename, self.evalue = report, ename, evalue
        super().__init__(
            f"The ETL notebook failed with {ename}: {evalue}",
            f"The executed notebook with the error is {report}.",
        )


def ensure_kernel() -> str:
    """Register this environment's Jupyter kernel if it is missing, so papermill and nbval find it."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if KERNEL_NAME not in specs or not Path(specs[KERNEL_NAME]).resolve().is_relative_to(Path(sys.prefix).resolve()):
        from ipykernel.kernelspec import install

        install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME, prefix=sys.prefix)
    return KERNEL_NAME


def report_path(run_date: dt.date, settings: Settings) -> Path:
    return settings.runs_dir / f"{run_date.isoformat()}.ipynb"


def run_notebook(
    run_date: dt.date | str,
    settings: Settings | None = None,
    output: Path | None = None,
    parameters: dict | None = None,
) -> Path:
    """Execute ``notebooks/etl.ipynb`` for the date into ``runs/<date>.ipynb``; return the report's path.

    Raises ``NotebookRunError`` when a cell fails (the report still holds the error).
    """
    settings = settings or get_settings()
    run_date = parse_run_date(run_date)
    if not settings.notebook_path.exists():
        raise ConfigurationError(
            f"The ETL notebook {settings.notebook_path} does not exist.",
            "Run from a checkout of the project, or set ETL_NOTEBOOK to the notebook's path.",
        )
    output = output or report_path(run_date, settings)
    parameters = {"date": run_date.isoformat(), "report_path": str(output), **(parameters or {})}
    return execute(settings.notebook_path, output, parameters)


def execute(notebook: Path, output: Path, parameters: dict) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (in this environment's kernel, from the
    notebook's folder); raise ``NotebookRunError`` when a cell fails (``output`` shows the error)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            kernel_name=ensure_kernel(),
            cwd=str(notebook.parent),
            progress_bar=False,
            # Written once at the end (and with the error when a cell fails), not after every cell:
            # a report with figures is rewritten ~30 times otherwise, for a run of a few seconds.
            request_save_on_cell_execute=False,
        )
    except PapermillExecutionError as exc:
        raise NotebookRunError(output, exc.ename, exc.evalue) from None
    return output
