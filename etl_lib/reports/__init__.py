"""``reports``: what people read. The audit report of a run (``audit``), the exploration of the
target (``explore``), the summary of all runs (``runs_summary``), a report's HTML export (``export``), the values a run records in its
notebook (``recorded``), and executing notebooks with papermill (``notebooks``).

Helpers take a run's result (or frames read through ``storage.query``) and return a DataFrame
or a matplotlib ``Figure``; the notebooks only call them and display.
May import: ``core``, ``config``, ``storage``, ``pipeline``.
"""
