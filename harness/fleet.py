"""Dagster's fleet for tests and benchmarks: a RabbitMQ vhost of one's own on the machine's broker, a TCP proxy
in front of it that can be stopped (the broker "going away" without stopping the machine's RabbitMQ), and the
fleet of ``etl dagster fleet`` (workers, daemon) against a scratch Dagster database on the stack's server."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
from dagster import DagsterInstance

from etl_lib.config.settings import Settings
from etl_lib.ops.fleet import Fleet, start_fleet
from harness.stack import scratch_database

RABBITMQ = ("127.0.0.1", 5672)


def broker_reachable() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(RABBITMQ, timeout=2):
        return True
    return False


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def own_vhost() -> Iterator[str]:
    """A new vhost on the machine's RabbitMQ for guest, so that parallel runs never take each other's steps;
    its name. Deleted afterwards."""
    name = f"wind-etl-{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", name)
    try:
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        with contextlib.suppress(Exception):
            _rabbitmqctl("delete_vhost", name)


class TcpProxy:
    """A loopback TCP proxy to ``upstream``: ``stop()`` closes the listener and cuts every connection (to the
    clients, the broker is gone), ``start()`` listens again on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@contextlib.contextmanager
def tcp_proxy(upstream: tuple[str, int] = RABBITMQ) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def broker_url(vhost: str, port: int = RABBITMQ[1]) -> str:
    return f"pyamqp://guest:guest@127.0.0.1:{port}/{vhost}"


@contextlib.contextmanager
def fleet(settings: Settings, broker: str, *, workers: int = 2, **overrides) -> Iterator[Fleet]:
    """The fleet (``workers`` Celery workers and the daemon, no webserver) on ``broker``, its instance in a
    temporary DAGSTER_HOME over a scratch database of the stack's server; all stopped and removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="wind-etl-dagster-"))
    try:
        with scratch_database(settings.target_url, prefix="dagster") as url:
            own = settings.model_copy(
                update={"dagster_home": home, "dagster_database_url": url, "celery_broker_url": broker, **overrides}
            )
            running = start_fleet(own, workers)
            try:
                yield running
            finally:
                running.stop_all()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def instance_of(running: Fleet) -> DagsterInstance:
    """The fleet's Dagster instance, opened afresh from its DAGSTER_HOME (a context manager)."""
    return DagsterInstance.from_config(str(running.settings.dagster_home))


def step_workers(instance: DagsterInstance, run_ids: list[str]) -> dict[str, str]:
    """Run id -> the Celery worker (``worker1@host``) that executed its ``daily_statistics`` step, from the
    engine event dagster-celery writes when a worker starts a step."""
    found = {}
    for run_id in run_ids:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is not None and event.is_engine_event and "Executing steps" in (event.message or ""):
                worker = event.engine_event_data.metadata.get("Celery worker")
                if worker is not None:
                    found[run_id] = worker.value
    return found


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll ``predicate`` until it returns something true (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def worker_pool_process(running: Fleet, worker: str) -> psutil.Process:
    """The pool process of ``worker`` (``worker1``...), which executes its steps."""
    [child] = psutil.Process(running.processes[worker].pid).children()
    return child
