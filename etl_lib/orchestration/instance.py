"""Dagster's instance for production, made from the settings: ``DAGSTER_HOME/dagster.yaml`` and what the
instance's storage holds beside it (the concurrency pools' limits).

- run, event-log and schedule storage in PostgreSQL (dagster-postgres): ``settings.dagster_url``, the
  embedded server's database ``dagster`` unless ``ETL_DAGSTER_DATABASE_URL`` names another; every
  process that takes part in a run (the daemon, the run's process, each worker) reads and writes the
  same database, which is what lets steps run on other machines and a restarted daemon find its
  queue;
- the queued run coordinator: at most ``dagster_max_concurrent_runs`` runs at once, never two of the
  same partition;
- run retries: a run that fails for a reason outside its steps' code (a killed worker, a broker away)
  is re-executed from its failure, up to ``dagster_run_retries`` times; a step that fails on its data
  is not retried (it would fail again);
- the pools ``source_api`` and ``target_database`` (``POOLS``), their limits from the settings.

``etl dagster init`` (``ops``) writes the file and sets the pools; nothing here writes files.
"""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url

from ..config.settings import Settings

# The concurrency pools (Dagster 1.13 "pools") of the steps: a step that reads the source API (the ETL
# of a day, which also writes it to the target) and a step that only reads the target.
SOURCE_API_POOL = "source_api"
TARGET_DATABASE_POOL = "target_database"
PARTITION_TAG = "dagster/partition"


def pool_limits(settings: Settings) -> dict[str, int]:
    """Each pool's limit: steps of that pool running at once, across all runs and workers."""
    return {
        SOURCE_API_POOL: settings.dagster_source_api_slots,
        TARGET_DATABASE_POOL: settings.dagster_target_database_slots,
    }


def storage_url(settings: Settings) -> str | dict:
    """The storage URL as ``dagster.yaml`` holds it: ``{"env": "ETL_DAGSTER_DATABASE_URL"}`` for a URL with a
    password that came from that variable (the file then holds no secret), else the URL itself."""
    url = settings.dagster_url
    if make_url(url).password is not None and os.environ.get("ETL_DAGSTER_DATABASE_URL") == url:
        return {"env": "ETL_DAGSTER_DATABASE_URL"}
    return url


def instance_config(settings: Settings) -> dict:
    """The contents of ``dagster.yaml`` for ``settings``."""
    return {
        "telemetry": {"enabled": False},
        "storage": {"postgres": {"postgres_url": storage_url(settings)}},
        # The coordinator looks at the queue every second (Dagster's default: 5 s of every run's start).
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"dequeue_interval_seconds": 1},
        },
        "concurrency": {
            "runs": {
                "max_concurrent_runs": settings.dagster_max_concurrent_runs,
                "tag_concurrency_limits": [
                    {"key": PARTITION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
                ],
            },
            "pools": {"granularity": "op"},
        },
        "run_retries": {
            "enabled": settings.dagster_run_retries > 0,
            "max_retries": settings.dagster_run_retries,
            "retry_on_asset_or_op_failure": False,
        },
    }


HEADER = """\
# Dagster's instance, written by `etl dagster init` from the project's settings (docs/configuration.md);
# run it again after changing them. Storage in PostgreSQL, the queued run coordinator, run retries;
# the pools' limits are kept in the storage itself (`dagster instance concurrency get --all`).
"""
