"""A throw-away embedded stack in a temporary folder: for tests, benchmarks and golden notebooks.

It never touches the user's ``.stack``: its own server, its own API port, its own runs folder.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from etl_lib.config.settings import Settings, environment
from etl_lib.core.contract import DEFAULT_FARMS, DEFAULT_PERIOD_DAYS, DEFAULT_PERIOD_START, DEFAULT_TURBINES
from etl_lib.ops.stack import stack_down, stack_up
from etl_lib.pipeline.run import run_etl
from etl_lib.simulation.generator import farm_names
from etl_lib.simulation.seed import seed_source
from etl_lib.storage.engines import dispose, engine_for

# Variables that would point a test at someone else's databases or API, or tell someone's Dagster of its runs.
_FOREIGN_ENV = (
    "SOURCE_DATABASE_URL",
    "TARGET_DATABASE_URL",
    "API_DATABASE_URL",
    "ETL_API_URL",
    "ETL_API_TOKEN",
    "DAGSTER_HOME",
)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextmanager
def temporary_stack(
    days: int = DEFAULT_PERIOD_DAYS,
    *,
    export_env: bool = True,
    run_days: bool = True,
    farms: int = DEFAULT_FARMS,
    turbines: int = DEFAULT_TURBINES,
) -> Iterator[Settings]:
    """Start a stack seeded with ``farms`` farms of ``turbines`` turbines (default: the default farm); with
    ``run_days`` the ETL has already run every seeded day of every farm, so the target holds results. With
    ``export_env`` its settings are also put in ``os.environ`` so child processes (papermill kernels, nbval, the
    CLI) use it; without, ``stack_env`` gives what a child process needs."""
    root = Path(tempfile.mkdtemp(prefix="wind-etl-"))
    env = {
        "ETL_STACK_DIR": str(root / "stack"),
        "ETL_API_PORT": str(free_port()),
        "ETL_RUNS_DIR": str(root / "runs"),
    }
    settings = Settings(
        stack_dir=env["ETL_STACK_DIR"], api_port=env["ETL_API_PORT"], runs_dir=env["ETL_RUNS_DIR"], dagster_home=None
    )
    try:
        with environment(env, unset=_FOREIGN_ENV) if export_env else nullcontext():
            try:
                stack_up(settings)
                seed_source(engine_for(settings.source_url), days=days, farms=farms, turbines=turbines)
                if run_days:
                    names = farm_names(farms) if farms > 1 else [None]
                    for offset in range(days):
                        for name in names:
                            run_etl(DEFAULT_PERIOD_START + dt.timedelta(days=offset), settings, farm=name)
                yield settings
            finally:
                stack_down(settings)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def stack_env(settings: Settings) -> dict[str, str]:
    """The environment that points a child process (the CLI, a kernel) at the stack of ``settings``."""
    return {
        "ETL_STACK_DIR": str(settings.stack_dir),
        "ETL_API_PORT": str(settings.api_port),
        "ETL_RUNS_DIR": str(settings.runs_dir),
    }


@contextmanager
def scratch_database(server_url: str, prefix: str = "scratch") -> Iterator[str]:
    """A new, empty database on the server of ``server_url`` (the URL of any database on it): its URL,
    password kept; afterwards the library's engine for it is disposed and the database dropped."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
