"""``etl dagster fleet``: Dagster on PostgreSQL storage with its workers on the broker, on this machine, in one
command: the embedded stack (unless the environment names the databases and the API), the instance
(``etl dagster init``), N Celery workers (``etl dagster worker``), the daemon (which launches the queued
runs and the backfills, and retries failed runs) and, unless told not to, the webserver.

The processes are this command's children, each in its own session; their pids are recorded in
``DAGSTER_HOME/fleet.json`` (so a test or an operator can stop one worker), and stopping the command
(Ctrl-C, SIGTERM) stops them all. The same roles are compose's services (``--profile fleet``) and, on
Kubernetes, the Helm chart's deployments (docs/scaling.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config.settings import Settings
from .dagster_home import dagster_home, init_instance, worker_command

STOP_TIMEOUT_S = 20.0
QUIET = "ignore::FutureWarning:click.core"  # Dagster 1.13's `dg` supersession warning on every CLI command


def fleet_env(settings: Settings) -> dict[str, str]:
    """The environment of every process of the fleet: this one's, with the Celery executor and the instance."""
    env = dict(os.environ)
    env.update(
        {
            "DAGSTER_HOME": str(dagster_home(settings)),
            "ETL_DAGSTER_EXECUTOR": "celery",
            "ETL_STACK_DIR": str(settings.stack_dir),
            "ETL_API_PORT": str(settings.api_port),
            "ETL_RUNS_DIR": str(settings.runs_dir),
            "ETL_CELERY_BROKER_URL": settings.celery_broker_url,
            "ETL_CELERY_BROKER_WAIT_S": str(settings.celery_broker_wait_s),
            "ETL_DAGSTER_DAYS_PER_RUN": str(settings.dagster_days_per_run),
            "PYTHONWARNINGS": ",".join(filter(None, [env.get("PYTHONWARNINGS"), QUIET])),
        }
    )
    if settings.dagster_database_url:
        env["ETL_DAGSTER_DATABASE_URL"] = settings.dagster_database_url
    return env


def daemon_command() -> list[str]:
    return [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-m", "etl_lib.orchestration"]


def webserver_command(host: str, port: int) -> list[str]:
    return [
        str(Path(sys.executable).parent / "dagster-webserver"),
        "-m",
        "etl_lib.orchestration",
        "--host",
        host,
        "--port",
        str(port),
    ]


@dataclass
class Fleet:
    settings: Settings
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return dagster_home(self.settings) / "fleet.json"

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                command, env=fleet_env(self.settings), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes[name] = process
        self._record()
        return process

    def _record(self) -> None:
        state = {name: process.pid for name, process in self.processes.items() if process.poll() is None}
        partial = self.state_file.with_name(f".fleet.json.{os.getpid()}")
        partial.write_text(json.dumps(state, indent=2) + "\n")
        os.replace(partial, self.state_file)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop one process and its children (its session)."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        _signal_group(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout)
        self._record()

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)
        self.state_file.unlink(missing_ok=True)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def start_fleet(
    settings: Settings, workers: int, *, webserver: tuple[str, int] | None = None, concurrency: int = 1
) -> Fleet:
    """Everything up: the stack when embedded, the instance, ``workers`` workers, the daemon, the webserver."""
    if settings.uses_embedded_databases:
        from .stack import stack_up

        stack_up(settings)
    init_instance(settings)
    logs = dagster_home(settings) / "fleet-logs"  # not logs/: Dagster deletes that folder when telemetry is off
    logs.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(settings, logs)
    try:
        for number in range(1, workers + 1):
            fleet.start(f"worker{number}", worker_command(settings, concurrency=concurrency, name=f"worker{number}"))
        fleet.start("daemon", daemon_command())
        if webserver is not None:
            fleet.start("webserver", webserver_command(*webserver))
    except BaseException:
        fleet.stop_all()
        raise
    return fleet


def run_fleet(settings: Settings, workers: int, webserver: tuple[str, int] | None, echo) -> int:
    """``etl dagster fleet``: start, say where, wait until stopped or until a process ends by itself."""
    fleet = start_fleet(settings, workers, webserver=webserver)
    stopping = {"signal": None}

    def stop(signum, _frame):
        stopping["signal"] = signum

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    echo(f"DAGSTER_HOME={dagster_home(settings)} (storage: PostgreSQL, {settings.dagster_url.split('?')[0]})")
    echo(
        f"{workers} worker(s) on {fleet_env(settings)['ETL_DAGSTER_EXECUTOR']} broker {_safe(settings.celery_broker_url)}"
    )
    if webserver:
        echo(f"webserver: http://{webserver[0]}:{webserver[1]}")
    echo(f"logs: {fleet.logs}; pids: {fleet.state_file}; Ctrl-C stops them all")
    try:
        while stopping["signal"] is None:
            ended = [name for name, process in fleet.processes.items() if process.poll() is not None]
            if ended:
                echo(f"error: {', '.join(ended)} ended by itself; see {fleet.logs}. Stopping the fleet.")
                return 1
            time.sleep(0.5)
        return 0
    finally:
        fleet.stop_all()


def _safe(url: str) -> str:
    from ..orchestration.execution import redacted

    return redacted(url)
