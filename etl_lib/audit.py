"""Values recorded inside an executed notebook, so a summary can read them back without re-running it.

The notebook displays them under a MIME type of our own; Jupyter keeps the output in
the ``.ipynb`` and ``read_recorded`` finds it again.
"""

from __future__ import annotations

from pathlib import Path


MIME_TYPE = "application/vnd.wind-etl.run+json"


def _cells(notebook: Path | str) -> list:
    # Imported here: nbformat pulls in jsonschema, whose format checkers cost ~2 s at import,
    # and the running notebook (which only records) never needs it.
    import nbformat

    return nbformat.read(str(notebook), as_version=4).cells


def record(values: dict) -> None:
    """Display ``values`` as a recorded output of the running notebook (JSON-serialisable only)."""
    from IPython.display import display

    display({MIME_TYPE: values, "text/plain": f"recorded: {', '.join(values)}"}, raw=True)


def read_recorded(notebook: Path | str) -> dict:
    """Merge every recorded output of an executed notebook, later ones winning; {} if none."""
    values: dict = {}
    for cell in _cells(notebook):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME_TYPE in data:
                values.update(data[MIME_TYPE])
    return values


def read_error(notebook: Path | str) -> dict | None:
    """The first error output of an executed notebook (``ename``, ``evalue``), or None."""
    for cell in _cells(notebook):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return {"ename": output.get("ename"), "evalue": output.get("evalue")}
    return None


def summary_line(values: dict) -> str:
    """One line a person reads after a run, from the recorded values."""
    line = (
        f"{values.get('date', '?')} {values.get('status', '?')}: {values.get('rows_read', '?')} samples read, "
        f"{values.get('buckets', '?')} buckets, {values.get('rows_written', '?')} rows written"
    )
    quality = values.get("quality") or {}
    if quality:
        line += "; quality " + ", ".join(f"{variable} {share:.1%}" for variable, share in quality.items())
    return line
