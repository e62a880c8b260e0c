"""Dagster resources: the source API and the target database, with the project's settings as defaults.

Each hands the same objects the rest of the project uses (``make_client``, ``engine_for``), so a
run from Dagster goes through the same code as one from the CLI or the notebook.
"""

# No `from __future__ import annotations`: Dagster reads the type hints of resources.
import os

import httpx
from dagster import ConfigurableResource, EnvVar
from pydantic import Field, SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from ..config.settings import Settings, get_settings
from ..pipeline.extract import RetryPolicy, make_client
from ..storage.engines import SessionLimits, engine_for

_DEFAULTS = Settings.model_fields


def _secret_from_env(name: str, value):
    """``EnvVar(name)`` when the value came from that variable, so Dagster's UI never shows it."""
    return EnvVar(name) if value is not None and os.environ.get(name) == value else value


class SourceApi(ConfigurableResource):
    """The source API over HTTP: the same httpx client and retry policy as every other run."""

    base_url: str
    timeout: float = _DEFAULTS["http_timeout"].default
    retries: int = Field(_DEFAULTS["http_retries"].default, ge=0)
    token: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "SourceApi":
        token = settings.api_token.get_secret_value() if settings.api_token else None
        return cls(
            base_url=settings.api_base_url,
            timeout=settings.http_timeout,
            retries=settings.http_retries,
            token=_secret_from_env("ETL_API_TOKEN", token),
        )

    def apply_to(self, settings: Settings) -> Settings:
        """``settings`` with this API's URL, timeout, retries and token."""
        update: dict = {"api_url": self.base_url, "http_timeout": self.timeout, "http_retries": self.retries}
        if self.token:
            update["api_token"] = SecretStr(self.token)
        return settings.model_copy(update=update)

    def get_client(self) -> httpx.Client:
        return make_client(self.apply_to(get_settings()))

    def retry(self) -> RetryPolicy:
        """The ETL's retry policy with this API's retries (the rest from the environment's settings)."""
        return RetryPolicy.from_settings(self.apply_to(get_settings()))


class TargetDatabase(ConfigurableResource):
    """The target PostgreSQL database, as a SQLAlchemy engine (one per URL per process)."""

    url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "TargetDatabase":
        return cls(url=_secret_from_env("TARGET_DATABASE_URL", settings.target_url))

    def apply_to(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"target_database_url": self.url})

    def get_engine(self) -> Engine:
        return engine_for(self.url, SessionLimits.of_target(get_settings()))  # the target's time limits


def run_settings(source_api: SourceApi, target_database: TargetDatabase) -> Settings:
    """The project's settings with the resources' values in place."""
    return target_database.apply_to(source_api.apply_to(get_settings()))


def notebook_inputs(settings: Settings) -> tuple[dict, dict[str, str]]:
    """Notebook parameters and kernel environment that make the notebook use ``settings``.

    The URLs go in as the notebook's parameters, except a target URL with a password, which
    goes through the environment so that it is never written into the audit notebook.
    Timeout, retries and token have no parameter; the kernel reads them from its environment.
    """
    parameters: dict = {"api_url": settings.api_base_url}
    env = {"ETL_HTTP_TIMEOUT": str(settings.http_timeout), "ETL_HTTP_RETRIES": str(settings.http_retries)}
    if make_url(settings.target_url).password is None:
        parameters["target_database_url"] = settings.target_url
    else:
        env["TARGET_DATABASE_URL"] = settings.target_url
    if settings.api_token:
        env["ETL_API_TOKEN"] = settings.api_token.get_secret_value()
    return parameters, env
