"""One settings object for the whole project.

Environment variables override the embedded defaults everywhere (API, ETL, notebook,
CLI, Dagster). A URL left unset points at the embedded stack under ``ETL_STACK_DIR``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
API_READER_ROLE = "api_reader"
EMBEDDED_SUPERUSER = "postgres"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    stack_dir: Path = Field(PROJECT_ROOT / ".stack", validation_alias=_env("ETL_STACK_DIR"))
    source_database_url: str | None = Field(None, validation_alias=_env("SOURCE_DATABASE_URL"))
    target_database_url: str | None = Field(None, validation_alias=_env("TARGET_DATABASE_URL"))
    api_database_url: str | None = Field(
        None,
        validation_alias=_env("API_DATABASE_URL"),
        description="Connection the API reads the source with; defaults to the read-only role.",
    )
    api_url: str | None = Field(None, validation_alias=_env("ETL_API_URL"))
    api_host: str = Field("127.0.0.1", validation_alias=_env("ETL_API_HOST"))
    api_port: int = Field(8765, validation_alias=_env("ETL_API_PORT"))
    api_token: SecretStr | None = Field(None, validation_alias=_env("ETL_API_TOKEN"))
    http_timeout: float = Field(30.0, validation_alias=_env("ETL_HTTP_TIMEOUT"))
    http_retries: int = Field(4, ge=0, validation_alias=_env("ETL_HTTP_RETRIES"))
    http_backoff: float = Field(
        0.2, ge=0, validation_alias=_env("ETL_HTTP_BACKOFF"),
        description="First wait between retries in seconds; doubles each retry (max 5 s), plus up to as much jitter.",
    )
    http_retry_deadline: float = Field(
        60.0, gt=0, validation_alias=_env("ETL_HTTP_RETRY_DEADLINE"),
        description="No new attempt starts once this many seconds have passed since the first.",
    )
    runs_dir: Path = Field(PROJECT_ROOT / "runs", validation_alias=_env("ETL_RUNS_DIR"))
    notebook_path: Path = Field(PROJECT_ROOT / "notebooks" / "etl.ipynb", validation_alias=_env("ETL_NOTEBOOK"))
    max_range_days: int = Field(400, validation_alias=_env("ETL_API_MAX_RANGE_DAYS"))
    api_statement_timeout_ms: int = Field(
        30_000, gt=0, validation_alias=_env("ETL_API_STATEMENT_TIMEOUT_MS"),
        description="The API's database statements are cancelled after this long.",
    )

    @property
    def pgdata(self) -> Path:
        return self.stack_dir.resolve() / "pgdata"

    def embedded_url(self, database: str, user: str = EMBEDDED_SUPERUSER) -> str:
        from .embedded_postgres import socket_dir

        return f"postgresql+psycopg2://{user}@/{database}?host={socket_dir(self.pgdata)}"

    @property
    def source_url(self) -> str:
        return self.source_database_url or self.embedded_url("source")

    @property
    def target_url(self) -> str:
        return self.target_database_url or self.embedded_url("target")

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


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (``None`` values are ignored).

    An invalid value raises ``ConfigurationError`` naming the variable, not a pydantic traceback.
    """
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as exc:
        from .errors import ConfigurationError

        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])} = {str(error.get('input'))[:80]!r}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(
            f"The configuration is invalid: {problems}.",
            "Correct or unset the environment variable(s) named above (see the README's configuration table).",
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
