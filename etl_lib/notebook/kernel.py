"""The project's Jupyter kernel (``wind-etl``): ipykernel, quiet when all is well.

``python -m etl_lib.notebook.kernel -f CONNECTION_FILE`` is what the kernel spec runs (``notebooks.ensure_kernel``
writes it). It starts ipykernel as ``ipykernel_launcher`` does, without two log lines that every headless
run (``etl run``, the user's papermill command, Dagster) printed on stderr although nothing was wrong:

- ``Kernel is running over TCP without encryption``: ipykernel 7 warns at every start when the client
  (papermill's nbclient) connects over local TCP without CurveZMQ keys, and papermill has no option to
  offer either IPC or keys;
- ``KeyboardInterrupt caught in kernel``: jupyter_client interrupts the kernel before every shutdown, and
  the interrupt often lands while the kernel finishes its last reply, so every successful run ended with it.

Every other message of the kernel is left as it is. Three more things make a report's run shorter:

- the libraries the project's notebooks import (``PRELOAD``: pandas, matplotlib, SQLAlchemy and the
  report modules, about a second) start loading in a thread as soon as the kernel is up, while it
  would otherwise wait: jupyter_client listens for 0.2 s of silence before it sends the first cell,
  and papermill saves the notebook between cells. Before any cell runs, the kernel waits for that
  thread to finish, so a cell never imports at the same time (a failed preload is left to the
  cell's own import to report);
- Python's cyclic garbage collector sweeps after every 10,000 new objects instead of 700: a report
  imports pandas, matplotlib and SQLAlchemy (some 200,000 objects), and the collector swept them
  several times while they loaded, about a tenth of the imports' time;
- once the kernel has shut down and Python's exit handlers have run (connection file, sockets,
  history), the process ends without the interpreter's final teardown of every module and object,
  about half a second that papermill waited for.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import os
import sys
import threading
from pathlib import Path

QUIET = ("Kernel is running over TCP without encryption", "KeyboardInterrupt caught in kernel")
LOGGER = "IPKernelApp"  # the kernel application's logger (traitlets names it after the class)
# What the notebooks in notebooks/ import, heaviest first (the Styler renders their tables).
PRELOAD = (
    "pandas",
    "matplotlib.figure",
    "sqlalchemy",
    "etl_lib.reports.audit",
    "etl_lib.reports.explore",
    "etl_lib.reports.runs_summary",
    "pandas.io.formats.style",
)
GC_YOUNGEST_THRESHOLD = 10_000  # new objects between two collections of the youngest generation (Python: 700)


def _preload() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # the cell that imports it says what is wrong
            pass


class _WithoutNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(QUIET)


def main() -> None:
    # As ipykernel_launcher: the working folder leaves sys.path while the kernel loads (IPython puts it
    # back), so a file in the notebook's folder cannot shadow a module the kernel imports.
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    logging.getLogger(LOGGER).addFilter(_WithoutNoise())
    gc.set_threshold(GC_YOUNGEST_THRESHOLD, *gc.get_threshold()[1:])
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()  # what ipykernel_launcher's launch_new_instance does, in two steps
    app.initialize()
    preload = threading.Thread(target=_preload, name="preload", daemon=True)
    preload.start()
    app.shell.events.register("pre_run_cell", lambda *_: preload.join())
    app.start()
    atexit._run_exitfuncs()  # what a normal exit runs first; the module teardown after it is skipped
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
