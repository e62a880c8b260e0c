"""The embedded stack: one PostgreSQL server (databases ``source`` and ``target``) and the API process.

Everything lives under ``settings.stack_dir``: the server's data, the API's pid and log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from . import embedded_postgres
from .db import engine_for
from .errors import StackError
from .settings import Settings
from .source_db import prepare_source
from .target_schema import create_target_schema

API_START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class StackStatus:
    database_running: bool
    api_running: bool
    api_pid: int | None
    source_database_url: str
    target_database_url: str
    api_url: str
    stack_dir: str

    def as_dict(self) -> dict:
        return asdict(self)


def _api_pid_file(settings: Settings) -> Path:
    return settings.stack_dir / "api.pid"


def api_log_file(settings: Settings) -> Path:
    return settings.stack_dir / "api.log"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_api_pid(settings: Settings) -> int | None:
    """The API's pid if it is alive; a stale pid file is removed."""
    path = _api_pid_file(settings)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
    except ValueError:
        pid = None
    if pid is None or not _pid_alive(pid):
        path.unlink(missing_ok=True)
        return None
    return pid


def api_healthy(settings: Settings, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{settings.api_base_url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def api_command(settings: Settings) -> list[str]:
    """The command that serves the API; the same one the Dockerfile runs."""
    return [
        sys.executable, "-m", "uvicorn", "api.main:app",
        "--host", settings.api_host, "--port", str(settings.api_port), "--no-access-log",
    ]  # fmt: skip


def start_api(settings: Settings) -> int:
    """Start the API as its own process unless it already runs; return its pid."""
    pid = _read_api_pid(settings)
    if pid is not None:
        return pid
    if not _port_free(settings.api_host, settings.api_port):
        raise StackError(
            f"Port {settings.api_port} on {settings.api_host} is already in use by another program, "
            "so the API cannot start there.",
            "Stop that program, or choose another port: ETL_API_PORT=8766 etl stack up "
            "(and use the same ETL_API_PORT for later commands).",
        )
    env = {**os.environ, "API_DATABASE_URL": settings.api_source_url, "ETL_STACK_DIR": str(settings.stack_dir)}
    log = api_log_file(settings).open("ab")
    process = subprocess.Popen(
        api_command(settings), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    _api_pid_file(settings).write_text(str(process.pid))
    deadline = time.monotonic() + API_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _api_pid_file(settings).unlink(missing_ok=True)
            tail = api_log_file(settings).read_text(errors="replace")[-2000:]
            raise StackError(
                f"The API process exited with code {process.returncode} while starting. Its log says:\n{tail}",
                f"Fix the cause above; the full log is {api_log_file(settings)}.",
            )
        if api_healthy(settings, timeout=0.5):
            return process.pid
        time.sleep(0.1)
    stop_api(settings)
    raise StackError(
        f"The API did not answer /health within {API_START_TIMEOUT_S:.0f} s.",
        f"Look at {api_log_file(settings)} for the reason.",
    )


def stop_api(settings: Settings, timeout: float = 10.0) -> bool:
    pid = _read_api_pid(settings)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        try:  # reap it if it is our child (tests start it in-process)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if _pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    _api_pid_file(settings).unlink(missing_ok=True)
    return True


def start_databases(settings: Settings) -> None:
    """Start the embedded server and make sure both databases, the API role and the schemas exist."""
    settings.stack_dir.mkdir(parents=True, exist_ok=True)
    admin_uri = embedded_postgres.start(settings.pgdata)
    embedded_postgres.ensure_databases_and_roles(admin_uri)
    prepare_source(engine_for(settings.source_url))
    create_target_schema(engine_for(settings.target_url))


def stack_up(settings: Settings) -> StackStatus:
    start_databases(settings)
    start_api(settings)
    return stack_status(settings)


def stack_down(settings: Settings) -> StackStatus:
    stop_api(settings)
    for url in (settings.source_url, settings.target_url, settings.api_source_url):
        engine_for(url).dispose()
    embedded_postgres.stop(settings.pgdata)
    return stack_status(settings)


def stack_status(settings: Settings) -> StackStatus:
    pid = _read_api_pid(settings)
    return StackStatus(
        database_running=embedded_postgres.is_running(settings.pgdata),
        api_running=pid is not None and api_healthy(settings),
        api_pid=pid,
        source_database_url=settings.source_url,
        target_database_url=settings.target_url,
        api_url=settings.api_base_url,
        stack_dir=str(settings.stack_dir),
    )
