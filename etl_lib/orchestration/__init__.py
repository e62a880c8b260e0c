"""``orchestration``: Dagster. Resources (``resources``), the source's coverage and the daily partitions
that follow it (``coverage``), the daily-partitioned asset (``assets``), its checks (``checks``) and
their verdicts as plain functions (``verdicts``), the daily schedule (``schedules``), assembled in
``definitions``.

``dagster dev -m etl_lib.orchestration`` loads ``defs`` from here.
May import: ``core``, ``config``, ``storage``, ``metrics``, ``pipeline``, ``notebook`` (not ``reports``).
"""

from .definitions import defs

__all__ = ["defs"]
