"""``etl dagster init`` and ``etl dagster worker``: Dagster's instance for production made from the settings,
and a worker that executes the steps Dagster hands out over the broker.

``init`` makes sure the storage database exists (on the embedded server, started if needed, or on the
server ``ETL_DAGSTER_DATABASE_URL`` names), writes ``DAGSTER_HOME/dagster.yaml``
(``orchestration.instance``), opens the instance once (dagster-postgres creates or migrates its tables)
and sets the limits of the concurrency pools in it. Running it again rewrites the file and the limits
from the settings as they are; runs and history stay.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..config.settings import PROJECT_ROOT, Settings
from ..core.errors import ConfigurationError


def dagster_home(settings: Settings) -> Path:
    """``DAGSTER_HOME``, else ``.dagster`` in the project (as ``make dagster``)."""
    return settings.dagster_home or PROJECT_ROOT / ".dagster"


@dataclass(frozen=True)
class InitResult:
    home: Path
    storage: str  # the storage URL, password hidden
    pools: dict[str, int]


def _ensure_database(settings: Settings) -> None:
    """The storage database: on the embedded server (started if needed), else created on the named server
    when missing (a database of the same server is used to create it)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    if settings.dagster_database_url is None:
        from . import embedded_postgres

        settings.stack_dir.mkdir(parents=True, exist_ok=True)
        embedded_postgres.ensure_databases_and_roles(embedded_postgres.start(settings.pgdata))
        return
    url = make_url(settings.dagster_database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()


def init_instance(settings: Settings) -> InitResult:
    """Write ``dagster.yaml`` for ``settings`` and prepare its storage and pools."""
    from sqlalchemy.engine import make_url

    from ..orchestration.instance import HEADER, instance_config, pool_limits

    home = dagster_home(settings)
    if home.exists() and not home.is_dir():
        raise ConfigurationError(
            f"DAGSTER_HOME={home} is not a folder.",
            "Point DAGSTER_HOME at a folder (it is created if missing).",
            setting="DAGSTER_HOME",
        )
    _ensure_database(settings)
    home.mkdir(parents=True, exist_ok=True)
    config = instance_config(settings)
    partial = home / f".dagster.yaml.{os.getpid()}"
    partial.write_text(HEADER + yaml.safe_dump(config, sort_keys=False))
    os.replace(partial, home / "dagster.yaml")  # a reader never sees half of it
    from dagster import DagsterInstance

    limits = pool_limits(settings)
    storage = (
        {"ETL_DAGSTER_DATABASE_URL": settings.dagster_url}
        if isinstance(config["storage"]["postgres"]["postgres_url"], dict)
        else {}
    )
    from ..config.settings import environment

    with environment(storage), DagsterInstance.from_config(str(home)) as instance:
        for pool, limit in limits.items():
            instance.event_log_storage.set_concurrency_slots(pool, limit)
    return InitResult(home, make_url(settings.dagster_url).render_as_string(hide_password=True), limits)


def worker_command(
    settings: Settings, *, concurrency: int = 1, name: str | None = None, loglevel: str = "INFO"
) -> list[str]:
    """The Celery worker of ``etl dagster worker``: dagster-celery's task on the project's broker, ``concurrency``
    steps at a time (pool processes), one step fetched ahead at most."""
    from ..orchestration.execution import CELERY_QUEUE

    command = [
        sys.executable,
        "-m",
        "celery",
        "--app",
        "etl_lib.orchestration.celery_app",
        "worker",
        "--queues",
        CELERY_QUEUE,
        "--concurrency",
        str(concurrency),
        "--prefetch-multiplier",
        "1",
        "--loglevel",
        loglevel,
        "--without-gossip",
        "--without-mingle",
    ]
    if name:
        command += ["--hostname", name if "@" in name else f"{name}@%h"]
    return command
