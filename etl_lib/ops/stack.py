"""The embedded stack: one PostgreSQL server (databases ``source`` and ``target``) and the API process.

Everything lives under ``settings.stack_dir``: the server's data, the API's pid file and log. The
pid file records the API's identity (pid, start time, command line), so a zombie, a dead API or an
unrelated process that reused the pid is never taken for the API, and never signalled.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from ..config.settings import Settings
from ..core.errors import StackError
from ..storage.engines import dispose, engine_for, target_engine
from ..storage.source import prepare_source
from ..storage.target import ensure_target_schema
from . import embedded_postgres

API_START_TIMEOUT_S = 30.0
PORT_RELEASE_S = 5.0


@dataclass(frozen=True)
class StackStatus:
    database_running: bool
    api_running: bool
    api_pid: int | None
    source_database_url: str
    target_database_url: str
    api_url: str
    stack_dir: str


def _api_pid_file(settings: Settings) -> Path:
    return settings.stack_dir / "api.pid"


def api_log_file(settings: Settings) -> Path:
    return settings.stack_dir / "api.log"


@dataclass(frozen=True)
class ApiIdentity:
    """What ``.stack/api.pid`` records of the API process: its pid, its start time (as psutil
    reports it; a reused pid has another) and its command line."""

    pid: int
    started: float | None
    command: tuple[str, ...]

    def matches(self, process: psutil.Process) -> bool:
        """``process`` is this API: alive (a zombie is dead), started when recorded, running the command."""
        try:
            with process.oneshot():
                if process.status() == psutil.STATUS_ZOMBIE:
                    return False
                if self.started is not None and abs(process.create_time() - self.started) > 0.01:
                    return False
                return tuple(process.cmdline()) == self.command
        except psutil.Error:  # gone, or another user's process we may not inspect: not ours
            return False


def _write_api_identity(settings: Settings, pid: int, command: list[str]) -> None:
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:  # it already exited: the start-up loop below reports why
        started = None
    path = _api_pid_file(settings)
    partial = path.with_name(f".{path.name}.{os.getpid()}")  # renamed: a reader never sees half of it
    partial.write_text(json.dumps({"pid": pid, "started": started, "command": command}) + "\n")
    os.replace(partial, path)


def _read_api_identity(settings: Settings) -> ApiIdentity | None:
    """The recorded identity; a pid file of an older version (the pid alone) is taken to mean the
    command these settings would run, whose start time is unknown."""
    try:
        text = _api_pid_file(settings).read_text().strip()
    except OSError:
        return None
    try:
        recorded = json.loads(text)
        if isinstance(recorded, int):
            return ApiIdentity(recorded, None, tuple(api_command(settings)))
        return ApiIdentity(int(recorded["pid"]), recorded.get("started"), tuple(recorded["command"]))
    except (ValueError, KeyError, TypeError):
        return None


def running_api(settings: Settings) -> psutil.Process | None:
    """The API process named by the pid file if it is alive and really is the API; otherwise the
    pid file is stale (no such process, a zombie, or another program that got the pid) and removed.
    ``os.kill(pid, 0)`` cannot tell: it succeeds on a zombie and on any process with that pid."""
    identity = _read_api_identity(settings)
    if identity is not None:
        try:
            process = psutil.Process(identity.pid)
        except psutil.Error:
            process = None
        if process is not None and identity.matches(process):
            return process
    _api_pid_file(settings).unlink(missing_ok=True)
    return None


def api_healthy(settings: Settings, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{settings.api_base_url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _port_free(host: str, port: int, within: float = 0) -> bool:
    """The port can be bound now, or becomes free ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
        time.sleep(0.05)


API_KEEP_ALIVE_S = 5


def api_command(settings: Settings) -> list[str]:
    """The command that serves the API; the same one the Dockerfile runs. uvicorn with the API's
    guarded HTTP protocol (header and send time-outs, a header size limit: ``api/server.py``) and an
    explicit keep-alive time-out."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:app",
        "--host",
        settings.api_host,
        "--port",
        str(settings.api_port),
        "--no-access-log",
        "--http",
        "api.server:GuardedHttpToolsProtocol",
        "--timeout-keep-alive",
        str(API_KEEP_ALIVE_S),
    ]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_healthy(settings: Settings, process: psutil.Process, timeout: float) -> bool:
    """Wait until the API answers /health; False when ``process`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(process):
        if api_healthy(settings, timeout=0.5):
            return True
        time.sleep(0.1)
    return False


def start_api(settings: Settings) -> int:
    """Start the API as its own process unless it already runs; return its pid once it answers
    /health. Raises ``StackError`` otherwise: ``etl stack up`` ends with a working API or fails."""
    recorded = _api_pid_file(settings).exists()
    running = running_api(settings)
    if running is not None:
        if _wait_healthy(settings, running, API_START_TIMEOUT_S):
            return running.pid
        raise StackError(
            f"The API process {running.pid} runs but has not answered {settings.api_base_url}/health "
            f"within {API_START_TIMEOUT_S:.0f} s.",
            f"Look at {api_log_file(settings)}; restart it with `etl stack down` and `etl stack up`.",
        )
    # A killed API shows as a zombie a moment before its last thread has closed its socket.
    if not _port_free(settings.api_host, settings.api_port, within=PORT_RELEASE_S if recorded else 0):
        raise StackError(
            f"Port {settings.api_port} on {settings.api_host} is already in use by another program, "
            "so the API cannot start there.",
            "Stop that program, or choose another port: ETL_API_PORT=8766 etl stack up "
            "(and use the same ETL_API_PORT for later commands).",
        )
    env = {**os.environ, "API_DATABASE_URL": settings.api_source_url, "ETL_STACK_DIR": str(settings.stack_dir)}
    command = api_command(settings)
    with api_log_file(settings).open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _write_api_identity(settings, process.pid, command)
    if _wait_healthy(settings, psutil.Process(process.pid), API_START_TIMEOUT_S):
        return process.pid
    if process.poll() is not None:
        _api_pid_file(settings).unlink(missing_ok=True)
        tail = api_log_file(settings).read_text(errors="replace")[-2000:]
        raise StackError(
            f"The API process exited with code {process.returncode} while starting. Its log says:\n{tail}",
            f"Fix the cause above; the full log is {api_log_file(settings)}.",
        )
    stop_api(settings)
    raise StackError(
        f"The API did not answer /health within {API_START_TIMEOUT_S:.0f} s.",
        f"Look at {api_log_file(settings)} for the reason.",
    )


def stop_api(settings: Settings, timeout: float = 10.0) -> bool:
    """Stop the API (its process group) if the pid file names it; a stale pid file is removed and
    the process it names is never signalled. True if an API was stopped."""
    process = running_api(settings)
    if process is None:
        return False
    _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(process) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(process):
        _signal_group(process, signal.SIGKILL)
    try:  # reap it if it is our child (tests start it in-process)
        os.waitpid(process.pid, os.WNOHANG)
    except ChildProcessError:
        pass
    _api_pid_file(settings).unlink(missing_ok=True)
    return True


def _signal_group(process: psutil.Process, signum: int) -> None:
    """The API leads its own session (``start_new_session``): its group is its pid."""
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except (ProcessLookupError, psutil.NoSuchProcess):
        pass


def start_databases(settings: Settings) -> None:
    """Start the embedded server and make sure both databases, the API role and the schemas exist."""
    settings.stack_dir.mkdir(parents=True, exist_ok=True)
    admin_uri = embedded_postgres.start(settings.pgdata)
    embedded_postgres.ensure_databases_and_roles(admin_uri)
    prepare_source(engine_for(settings.source_url))
    ensure_target_schema(target_engine(settings))


def stack_up(settings: Settings) -> StackStatus:
    start_databases(settings)
    start_api(settings)
    return stack_status(settings)


def stack_down(settings: Settings) -> StackStatus:
    stop_api(settings)
    dispose(settings.source_url, settings.target_url, settings.api_source_url)
    embedded_postgres.stop(settings.pgdata)
    return stack_status(settings)


def stack_status(settings: Settings) -> StackStatus:
    process = running_api(settings)
    return StackStatus(
        database_running=embedded_postgres.is_running(settings.pgdata),
        api_running=process is not None and api_healthy(settings),
        api_pid=process.pid if process is not None else None,
        source_database_url=settings.source_url,
        target_database_url=settings.target_url,
        api_url=settings.api_base_url,
        stack_dir=str(settings.stack_dir),
    )
