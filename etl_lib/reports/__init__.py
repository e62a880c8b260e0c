"""``reports``: what people read. The audit report of a run (``audit``), the exploration of the
target (``explore``), the summary of all runs (``runs_summary``), and how all of them read
(``present``).

Helpers take a run's result (or frames read through ``storage.query``) and return a DataFrame
or a matplotlib ``Figure``; they format and draw what ``metrics`` computes, and the notebooks only
call them and display.
May import: ``core``, ``config``, ``storage``, ``metrics``, ``pipeline``, ``notebook``.
"""
