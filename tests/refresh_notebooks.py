"""Re-execute the committed notebooks in place against a fresh temporary stack.

Their stored outputs are what nbval compares on every `make test`; run this (`make golden`)
after a change that is meant to change what a notebook shows, and review the diff. The outputs
nbval does not compare (cells tagged ``nbval-ignore-output``: URLs, ports, wall-clock times, the
machine's runs) are not kept, so the committed notebooks hold nothing of the machine that made them
and running this twice leaves no diff (``tests/unit/test_golden_notebooks.py`` checks the first).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from etl_lib.notebook.runner import ensure_kernel
from harness.stack import temporary_stack

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
IGNORED = "nbval-ignore-output"


def refresh(paths: list[Path]) -> None:
    kernel = ensure_kernel()
    with temporary_stack():
        for path in paths:
            notebook = nbformat.read(path, as_version=4)
            NotebookClient(
                notebook, kernel_name=kernel, record_timing=False, resources={"metadata": {"path": str(path.parent)}}
            ).execute()
            for cell in notebook.cells:
                if IGNORED in cell.metadata.get("tags", []):
                    cell.outputs = []
            nbformat.write(notebook, path)
            print(f"refreshed {path}")


if __name__ == "__main__":
    refresh([Path(arg) for arg in sys.argv[1:]] or sorted(NOTEBOOKS.glob("*.ipynb")))
