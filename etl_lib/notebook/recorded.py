"""The values a run records inside its executed notebook, and reading them back.

``record_run(result)`` is the one call that writes them (the audit notebook's last cell), so an executed
report carries its run's figures for whoever opens the file. Nothing decides from them: the one record
of a run is its ``etl_run`` row in the target (``storage.run_record``), which ``etl run``, ``etl
backfill``, ``etl report`` and Dagster read. The notebook displays them under a MIME type of our own,
which Jupyter keeps in the ``.ipynb``; beside it only an empty HTML form, so a reader sees nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.contract import RunStatus
from ..core.errors import UnreadableReportError

MIME_TYPE = "application/vnd.wind-etl.run+json"


class Recorded:
    """Values to keep in the notebook: displaying this object records them, and shows nothing."""

    def __init__(self, values: dict) -> None:
        self.values = values

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        # An empty HTML form rather than none: a viewer that finds no form it can show says so instead.
        return {MIME_TYPE: self.values, "text/html": ""}


def record(values: dict) -> Recorded:
    """Any JSON-serialisable values, recorded when the notebook displays the result."""
    return Recorded(values)


def record_run(result) -> Recorded:
    """What a succeeded run recorded (``status``, date, rows, buckets, seconds, quality, flag counts):
    the contract Dagster and the runs summary read back. ``result`` is ``run_etl``'s ``RunResult``."""
    return Recorded({"status": RunStatus.SUCCEEDED.value, **result.summary()})


def _cells(notebook: Path | str) -> list:
    # Imported here: nbformat pulls in jsonschema, whose format checkers cost ~2 s at import,
    # and the running notebook (which only records) never needs it.
    import nbformat

    return nbformat.read(str(notebook), as_version=4).cells


def read_recorded(notebook: Path | str) -> dict:
    """Merge every recorded output of an executed notebook, later ones winning; {} if none."""
    return _recorded_in(_cells(notebook))


def _recorded_in(cells: list) -> dict:
    values: dict = {}
    for cell in cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME_TYPE in data:
                values.update(data[MIME_TYPE])
    return values


def succeeded(recorded: dict) -> bool:
    return recorded.get("status") == RunStatus.SUCCEEDED


def error_output(cell) -> dict | None:
    """A notebook cell's error output (papermill keeps the failed cell's), or None."""
    return next((output for output in cell.get("outputs", []) if output.get("output_type") == "error"), None)


def read_error(notebook: Path | str) -> dict | None:
    """The first error output of an executed notebook (``ename``, ``evalue``), or None."""
    return _error_in(_cells(notebook))


def _error_in(cells: list) -> dict | None:
    output = next(filter(None, map(error_output, cells)), None)
    return None if output is None else {"ename": output.get("ename"), "evalue": output.get("evalue")}


def read_run(notebook: Path | str) -> tuple[dict, dict | None]:
    """``read_recorded`` and ``read_error`` of one notebook, read once."""
    cells = _cells(notebook)
    return _recorded_in(cells), _error_in(cells)


def report_key(notebook: Path | str) -> str | None:
    """The run key an executed report was made under (papermill keeps the parameters it injected in the
    notebook's metadata; ``run_notebook`` passes ``run_key``), None when it names none. Raises
    ``UnreadableReportError`` for a file that is no notebook: empty, cut short (a full disk), not JSON,
    or JSON of another shape. Plain JSON, no schema: nbformat's import costs seconds."""
    path = Path(notebook)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise UnreadableReportError(path, f"{type(exc).__name__}: {exc.strerror or exc}") from None
    if not text.strip():
        raise UnreadableReportError(path, "it is empty")
    try:
        content = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableReportError(path, f"it is not JSON, or cut short (a full disk?): {exc}") from None
    cells = content.get("cells") if isinstance(content, dict) else None
    if not (
        isinstance(cells, list)
        and all(isinstance(cell, dict) and "cell_type" in cell for cell in cells)
        and isinstance(content.get("metadata", {}), dict)
        and content.get("nbformat") == 4
    ):
        raise UnreadableReportError(path, "it is JSON, but not a notebook of format 4")
    parameters = (content.get("metadata", {}).get("papermill") or {}).get("parameters") or {}
    key = parameters.get("run_key") if isinstance(parameters, dict) else None
    return str(key) if key else None
