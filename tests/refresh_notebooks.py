"""Re-execute the committed notebooks in place against a fresh temporary stack.

Their stored outputs are what nbval compares on every `make test`; run this (`make golden`)
after a change that is meant to change what a notebook shows, and review the diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from etl_lib.notebook_runner import ensure_kernel
from etl_lib.testing import temporary_stack

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def refresh(paths: list[Path]) -> None:
    kernel = ensure_kernel()
    with temporary_stack():
        for path in paths:
            notebook = nbformat.read(path, as_version=4)
            NotebookClient(
                notebook, kernel_name=kernel, record_timing=False, resources={"metadata": {"path": str(path.parent)}}
            ).execute()
            nbformat.write(notebook, path)
            print(f"refreshed {path}")


if __name__ == "__main__":
    refresh([Path(arg) for arg in sys.argv[1:]] or sorted(NOTEBOOKS.glob("*.ipynb")))
