"""What a run says while it waits, so that waiting is never silence.

The pipeline logs at INFO (loggers under ``etl_lib.pipeline``) each moment a run waits or reads
again: a retry while the API cannot be reached or answers 5xx (``extract``: which attempt of how many,
and for how long at most), the source replaced between its reads (``run``), another run of the
same date holding the day's lock (``load``: whose, and until when it waits). Quiet unless asked for:
``show()`` writes them to standard error as they happen. ``etl run --no-report`` and ``etl backfill``
call it (their workers too), and so does ``reports.present.use_in_notebook``, so a notebook's cell shows
them in its output (the audit report keeps them).
"""

from __future__ import annotations

import logging
import sys

LOGGER = "etl_lib.pipeline"


class _ToStandardError(logging.Handler):
    """Each message on the standard error of the moment (a notebook's kernel replaces it per cell)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:  # one write with its line end: lines of processes sharing the stream (a backfill's workers) stay whole
            sys.stderr.write(f"{self.format(record)}\n")
            sys.stderr.flush()
        except Exception:  # a closed stream: nothing more can be said
            self.handleError(record)


def show() -> None:
    """Write the pipeline's notices to standard error from now on (once, however often it is called)."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(handler, _ToStandardError) for handler in logger.handlers):
        logger.addHandler(_ToStandardError(logging.INFO))
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
