"""``notebook``: running notebooks, below the reports and the orchestration that use it.

- ``runner``: papermill in the project's kernel (``run_notebook`` for a run's audit report, ``execute``
  for any notebook), atomically: a report is never half-written;
- ``kernel``: the Jupyter kernel ``wind-etl`` (ipykernel, quiet, its libraries preloaded);
- ``recorded``: the values a notebook keeps for itself (a hidden output), and reading them back;
- ``export``: a report's HTML export for readers without Jupyter.

The one record of a run is its ``etl_run`` row in the target (``storage.run_record``); nothing decides
from what a notebook recorded.
May import: ``core``, ``config``, ``storage``.
"""
