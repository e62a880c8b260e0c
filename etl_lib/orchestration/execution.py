"""Where a run's steps execute: the executor the definitions use, chosen by ``ETL_DAGSTER_EXECUTOR``.

- ``in_process`` (default): the run's own process, as ``dagster dev`` on one machine;
- ``multiprocess``: a process per step on the run's machine;
- ``celery``: each step is a Celery task on a RabbitMQ broker, executed by the workers that
  ``etl dagster worker`` starts (dagster-celery's own task); the run's process, launched by the
  daemon, only hands the steps out and collects their events. The workers write the steps' events
  straight into Dagster's PostgreSQL storage;
- ``k8s``: a Kubernetes job per step (dagster-k8s' ``k8s_job_executor``);
- ``docker``: a container per step (dagster-docker's ``docker_executor``).

Celery's settings (``CELERY_SETTINGS``), the same for the runs and the workers: a step is acknowledged
when it ends, so a worker that disappears whole (its host, its container) leaves the step to the broker,
which hands it to another worker; a worker's pool process killed mid-step fails the step
(``WorkerLostError``), and Dagster's run retry re-executes the run from that step. A step is idempotent
either way (``assets``: a day a run already wrote is not written again).

A run whose broker cannot be reached waits ``celery_broker_wait_s`` for it, then fails with
``BrokerUnavailableError`` (what to do included); Dagster's run retries launch it again.
"""

from __future__ import annotations

from dagster import ExecutorDefinition, in_process_executor, multiprocess_executor

from ..config.settings import Settings
from ..core.errors import BrokerUnavailableError

CELERY_QUEUE = "dagster"  # dagster-celery's queue; a separate broker (or vhost) separates deployments
CELERY_SETTINGS = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": False,
    "worker_prefetch_multiplier": 1,
    "broker_connection_retry_on_startup": True,
    "broker_connection_timeout": 5,
}


def celery_app_args(settings: Settings) -> dict:
    """The Celery app's arguments, as the executor makes them from its config (``CeleryExecutor.app_args``)."""
    from dagster_celery.config import DEFAULT_CONFIG, dict_wrapper

    return {
        "broker": settings.celery_broker_url,
        "backend": settings.celery_backend_url,
        "include": [],
        "config_source": dict_wrapper(dict(DEFAULT_CONFIG, **CELERY_SETTINGS)),
    }


def redacted(url: str) -> str:
    """A broker URL without its password."""
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(url)


def wait_for_broker(app, url: str, wait_s: float) -> None:
    """Return once the broker answers; raise ``BrokerUnavailableError`` after ``wait_s`` seconds without."""
    import time

    deadline = time.monotonic() + wait_s
    last: Exception | None = None
    while True:
        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=min(5.0, wait_s))
            return
        except Exception as exc:  # kombu's OperationalError, socket errors, refused logins
            last = exc
        if time.monotonic() >= deadline:
            raise BrokerUnavailableError(redacted(url), wait_s, f"{type(last).__name__}: {last}")
        time.sleep(0.5)


def celery_executor_def(settings: Settings) -> ExecutorDefinition:
    """dagster-celery's executor with the project's settings, waiting for the broker and naming it when away."""
    from dagster import executor, multiple_process_executor_requirements
    from dagster_celery.core_execution_loop import core_celery_execution_loop
    from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor, _submit_task
    from dagster_celery.make_app import make_app

    class BrokerAwareCeleryExecutor(CeleryExecutor):
        def __init__(self, *, broker_wait_s: float, **kwargs) -> None:
            super().__init__(**kwargs)
            self.broker_wait_s = broker_wait_s

        def execute(self, plan_context, execution_plan):
            from kombu.exceptions import OperationalError

            wait_for_broker(make_app(self.app_args()), self.broker, self.broker_wait_s)
            try:
                yield from core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=_submit_task)
            except (OperationalError, ConnectionError) as exc:  # the broker went away mid-run
                raise BrokerUnavailableError(redacted(self.broker), 0, f"{type(exc).__name__}: {exc}") from None

    @executor(name="celery", config_schema=CELERY_CONFIG, requirements=multiple_process_executor_requirements())
    def etl_celery_executor(init_context):
        from dagster._core.execution.retries import RetryMode

        config = init_context.executor_config
        return BrokerAwareCeleryExecutor(
            broker=config.get("broker") or settings.celery_broker_url,
            backend=config.get("backend") or settings.celery_backend_url,
            include=config.get("include"),
            config_source=dict(CELERY_SETTINGS, **(config.get("config_source") or {})),
            retries=RetryMode.from_config(config["retries"]),
            broker_wait_s=settings.celery_broker_wait_s,
        )

    return etl_celery_executor


def executor_for(settings: Settings) -> ExecutorDefinition:
    """The executor ``ETL_DAGSTER_EXECUTOR`` names (imports dagster-celery, -k8s or -docker only when named)."""
    kind = settings.dagster_executor
    if kind == "in_process":
        return in_process_executor
    if kind == "multiprocess":
        return multiprocess_executor
    if kind == "celery":
        return celery_executor_def(settings)
    if kind == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    from dagster_docker import docker_executor

    return docker_executor
