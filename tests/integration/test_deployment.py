"""The compose deployment's scripts on a real PostgreSQL: the role script makes a read-only login role,
and the init and API services' commands run against the test stack. (The compose file, the Dockerfile
and the documented URLs, checked without a Docker engine: tests/unit/test_deployment.py.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from etl_lib.config.settings import API_READER_ROLE, API_READER_ROLE_SETTINGS, PROJECT_ROOT, Settings
from etl_lib.storage.source import prepare_source, source_data
from harness.stack import free_port
from tests.unit.test_deployment import compose, environment

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
ROLE_SCRIPT = PROJECT_ROOT / "deploy" / "source-initdb" / "10-api-reader.sh"
APP_SERVICES = ("init", "api", "dagster")  # built from the project's Dockerfile
# Variables that belong to the tools in the image, not to our settings.
TOOL_VARIABLES = {
    "DAGSTER_HOME",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PYTHONWARNINGS",
}


def _run_role_script(settings: Settings, password: str | None) -> subprocess.CompletedProcess:
    url = make_url(settings.source_url)
    env = {**os.environ, "PGHOST": url.query["host"], "POSTGRES_USER": url.username, "POSTGRES_DB": url.database}
    env.pop("API_READER_PASSWORD", None)
    if password is not None:
        env["API_READER_PASSWORD"] = password
    return subprocess.run(["sh", str(ROLE_SCRIPT)], capture_output=True, text=True, env=env)


def test_role_script_makes_a_read_only_login_role(settings, source_engine):
    if shutil.which("psql") is None:
        pytest.skip("psql (the PostgreSQL client) is not installed; the official image runs the script with its own")
    with source_engine.begin() as conn:  # as a fresh server has it: no settings on the role, TEMPORARY for PUBLIC
        conn.execute(text(f"ALTER ROLE {API_READER_ROLE} RESET ALL"))
        conn.execute(text("GRANT TEMPORARY ON DATABASE source TO PUBLIC"))
    for _ in range(2):  # idempotent: the role already exists in the embedded stack, and again after the first run
        done = _run_role_script(settings, "reader-secret")
        assert done.returncode == 0, done.stderr
    prepare_source(source_engine)  # what `etl init` does next in the init service
    with source_engine.connect() as conn:
        role = conn.execute(
            text("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = :r"), {"r": API_READER_ROLE}
        ).one()
        config = conn.execute(
            text(
                "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
                "WHERE r.rolname = :r AND s.setdatabase = 0"
            ),
            {"r": API_READER_ROLE},
        ).scalar_one()
        can = {
            p: conn.execute(text("SELECT has_table_privilege(:r, 'data', :p)"), {"r": API_READER_ROLE, "p": p}).scalar()
            for p in ("SELECT", "INSERT", "UPDATE", "DELETE")
        }
        temporary = conn.execute(
            text("SELECT has_database_privilege(:r, 'source', 'TEMPORARY')"), {"r": API_READER_ROLE}
        ).scalar()
    assert tuple(role) == (True, False)
    # The same session defaults as the embedded stack's role (etl_lib/ops/embedded_postgres.py).
    assert sorted(config) == sorted(f"{name}={value}" for name, value in API_READER_ROLE_SETTINGS.items())
    assert temporary is False
    assert can == {"SELECT": True, "INSERT": False, "UPDATE": False, "DELETE": False}


def test_role_script_without_password_says_what_to_set(settings):
    done = _run_role_script(settings, None)
    assert done.returncode != 0
    assert "API_READER_PASSWORD is not set: copy .env.example to .env" in done.stderr


# -- the services' commands, run here against the session's real databases -----------------------


def _with_port(argv: list[str], port: int) -> list[str]:
    """A compose command or health check moved from the container's 0.0.0.0:8765 to 127.0.0.1:port."""
    api_port = str(Settings(**environment("api")).api_port)
    swapped = [arg.replace(f"127.0.0.1:{api_port}", f"127.0.0.1:{port}") for arg in argv]
    swapped = [str(port) if arg == api_port else "127.0.0.1" if arg == "0.0.0.0" else arg for arg in swapped]
    return [sys.executable if arg == "python" else arg for arg in swapped]


def test_init_service_command_runs_and_leaves_seeded_data_alone(settings, source_engine):
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "SOURCE_DATABASE_URL": settings.source_url,
        "TARGET_DATABASE_URL": settings.target_url,
    }
    with source_engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(source_data)).scalar_one()
    done = subprocess.run(
        compose()["services"]["init"]["command"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "source schema at revision" in done.stdout and "target schema at revision" in done.stdout
    assert "source already has data; left as it is" in done.stdout
    with source_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(source_data)).scalar_one() == before > 0


def test_api_service_command_serves_the_source_as_api_reader_and_passes_its_health_check(
    settings, source_engine, tmp_path
):
    api = compose()["services"]["api"]
    port = free_port()
    env = {
        **os.environ,
        **environment("api"),
        "API_DATABASE_URL": settings.api_source_url,
        "ETL_API_HOST": "127.0.0.1",
        "ETL_API_PORT": str(port),
    }
    assert make_url(settings.api_source_url).username == API_READER_ROLE
    health = _with_port(api["healthcheck"]["test"][1:], port)
    log = tmp_path / "api.log"
    process = subprocess.Popen(
        _with_port(api["command"], port), cwd=PROJECT_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(health, capture_output=True).returncode != 0:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the API did not pass its compose health check within 30 s"
            time.sleep(0.2)
        coverage = httpx.get(f"http://127.0.0.1:{port}/coverage", timeout=10).json()
    finally:
        process.terminate()
        process.wait(timeout=10)
    with source_engine.connect() as conn:
        assert coverage["rows"] == conn.execute(select(func.count()).select_from(source_data)).scalar_one() > 0
