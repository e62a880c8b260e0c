"""A report's HTML export for readers without Jupyter: ``runs/<date>.html`` beside the notebook, without
code; a failed run's report leads with the project's message and leaves out what could not run.
Used by ``etl report`` (through ``runs_summary``) and by Dagster's asset; it needs nbformat and
nbconvert only (no pandas, no matplotlib)."""

from __future__ import annotations

import html
from pathlib import Path

from ..core.errors import FIX_SEPARATOR
from .recorded import error_output


def export_html(notebook: Path) -> Path:
    """``<notebook>.html`` beside it, without code cells (``nbconvert --no-input``), for readers without
    Jupyter; a failed run's report as ``for_readers`` makes it."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(for_readers(nbformat.read(str(notebook), as_version=4)))
    target = notebook.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"  # papermill's banner and anchor cells of a failed run
HEADER_TAG = "report-header"  # the cell that shows which day and command a report is about


def for_readers(notebook):
    """A failed run's report as a reader needs it: the project's message (what went wrong, what to do)
    right after the report's header, the sections that ran before the failure, and nothing of the
    sections that could not run, nor papermill's banner and traceback. A report without error is
    returned as it is."""
    cells = [cell for cell in notebook.cells if PAPERMILL_ERROR_TAG not in cell.metadata.get("tags", [])]
    failed = next((i for i, cell in enumerate(cells) if error_output(cell)), None)
    if failed is None:
        notebook.cells = cells
        return notebook
    import nbformat

    message = nbformat.v4.new_markdown_cell(failure_markdown(error_output(cells[failed])))
    start = failed
    while start > 0 and cells[start - 1].cell_type == "markdown":  # the failed section's heading and text
        start -= 1
    kept = cells[:start]
    header = next((i for i, cell in enumerate(kept) if HEADER_TAG in cell.metadata.get("tags", [])), -1)
    notebook.cells = [*kept[: header + 1], message, *kept[header + 1 :]]
    return notebook


def _plain(text: str) -> str:
    """``text`` shown as it is inside Markdown: HTML and Markdown's special characters escaped."""
    text = html.escape(text, quote=False)
    return "".join(f"\\{char}" if char in "\\*_[]#|" else char for char in text)


def failure_markdown(error: dict) -> str:
    """The failure as the first thing a reader sees: the error's name, what went wrong, what to do."""
    problem, _, fix = str(error.get("evalue", "")).partition(FIX_SEPARATOR)
    if not fix:
        fix = (
            "This error was not expected by the ETL: the notebook itself (runs/<date>.ipynb, opened in "
            "Jupyter) holds the full traceback; run the day again once it is corrected."
        )
    lines = [
        '<div style="border-left: 6px solid #c0392b; background: #fdecea; padding: 0.5em 1em; margin: 0.5em 0;">',
        "",
        f"**This run failed** ({error.get('ename', 'error')}): {_plain(problem.strip())}",
        "",
        f"**What to do:** {_plain(fix.strip())}",
        "",
        "The sections that could not run are left out.",
        "",
        "</div>",
    ]
    return "\n".join(lines)
