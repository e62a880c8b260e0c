"""Dagster definitions: the daily ETL as a partitioned asset, its checks, a job and a schedule.

``dagster dev -m etl_lib.orchestration`` opens the UI with everything here. The asset runs
the same notebook as ``etl run`` (papermill, no dagstermill) into ``runs/<date>.ipynb``,
so a run from Dagster and one from the CLI leave the same target rows and the same report.
Resources take their values from the project's settings (environment variables or the
embedded stack), read once when this module is loaded.
"""

# No `from __future__ import annotations`: Dagster reads the type hints of assets and checks.
import datetime as dt
import os
import warnings

import httpx
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetSelection,
    Config,
    ConfigurableResource,
    DailyPartitionsDefinition,
    Definitions,
    EnvVar,
    Failure,
    MaterializeResult,
    MetadataValue,
    PreviewWarning,
    asset,
    asset_check,
    build_schedule_from_partitioned_job,
    define_asset_job,
    in_process_executor,
)
from pydantic import Field, SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from . import generator
from .audit import read_recorded
from .dates import day_bounds
from .db import engine_for
from .errors import EtlError
from .extract import RetryPolicy, fetch_day, make_client
from .notebook_runner import NotebookRunError, report_path, run_notebook
from .orchestration_checks import bucket_completeness, quality_verdict
from .query import read_signals
from .settings import Settings, environment, get_settings
from .target_schema import ETL_VARIABLES, etl_signal_names

# Partitioned asset checks (one verdict per day) are a preview feature in Dagster 1.13; the pin in
# constraints.txt keeps their behaviour fixed, so the warning at every import is only noise.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning)

daily_partitions = DailyPartitionsDefinition(start_date=generator.DEFAULT_START.isoformat(), timezone="UTC")


def _secret_from_env(name: str, value):
    """``EnvVar(name)`` when the value came from that variable, so Dagster's UI never shows it."""
    return EnvVar(name) if value is not None and os.environ.get(name) == value else value


class SourceApi(ConfigurableResource):
    """The source API over HTTP: the same httpx client and retry policy as every other run."""

    base_url: str
    timeout: float = 30.0
    retries: int = Field(4, ge=0)
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


class TargetDatabase(ConfigurableResource):
    """The target PostgreSQL database, as a SQLAlchemy engine (one per URL per process)."""

    url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "TargetDatabase":
        return cls(url=_secret_from_env("TARGET_DATABASE_URL", settings.target_url))

    def apply_to(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"target_database_url": self.url})

    def get_engine(self) -> Engine:
        return engine_for(self.url)


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


def materialization_metadata(recorded: dict, report) -> dict:
    """What the notebook recorded, as Dagster metadata (whatever keys it has)."""
    metadata: dict = {"notebook": MetadataValue.path(str(report))}
    for key in ("rows_read", "buckets", "rows_written"):
        if key in recorded:
            metadata[key] = MetadataValue.int(int(recorded[key]))
    for variable, share in (recorded.get("quality") or {}).items():
        metadata[f"quality/{variable}"] = MetadataValue.float(float(share))
    for key in ("flag_counts", "seconds"):
        if key in recorded:
            metadata[key] = MetadataValue.json(recorded[key])
    return metadata


@asset(
    partitions_def=daily_partitions,
    group_name="wind_etl",
    kinds={"python", "jupyter", "postgres"},
    description="One UTC day of the ETL's 10-minute signals (mean, min, max, std, and the samples' count and "
    "quality per bucket), written to the target by notebooks/etl.ipynb (papermill), whose executed copy "
    "runs/<date>.ipynb is the day's audit report.",
)
def daily_statistics(
    context: AssetExecutionContext, source_api: SourceApi, target_database: TargetDatabase
) -> MaterializeResult:
    settings = run_settings(source_api, target_database)
    parameters, env = notebook_inputs(settings)
    context.log.info(f"Running the ETL notebook for {context.partition_key} against {settings.api_base_url}")
    try:
        with environment(env):  # the notebook's kernel copies this process's environment
            report = run_notebook(context.partition_key, settings, parameters=parameters)
    except NotebookRunError as exc:
        raise Failure(description=str(exc), metadata={"notebook": MetadataValue.path(str(exc.report))}) from None
    except EtlError as exc:
        raise Failure(description=str(exc)) from None
    recorded = read_recorded(report)
    if recorded.get("status") != "succeeded":
        raise Failure(
            description=f"{report} ran without error but recorded no successful run ({recorded or 'nothing'}). "
            "Check that notebooks/etl.ipynb still ends with its audit.record cell.",
            metadata={"notebook": MetadataValue.path(str(report))},
        )
    return MaterializeResult(metadata=materialization_metadata(recorded, report))


@asset_check(
    asset=daily_statistics,
    partitions_def=daily_partitions,
    description="The day has all 144 ten-minute buckets for each signal in the target; if not, how many and why.",
)
def all_buckets_written(
    context: AssetCheckExecutionContext, source_api: SourceApi, target_database: TargetDatabase
) -> AssetCheckResult:
    run_date = dt.date.fromisoformat(context.partition_key)
    start, end = day_bounds(run_date)
    written = read_signals(etl_signal_names(), start, end, engine=target_database.get_engine(), wide=False)
    result = bucket_completeness(run_date, written)
    if not result.passed:
        settings = source_api.apply_to(get_settings())
        try:
            with source_api.get_client() as client:
                samples = fetch_day(client, run_date, list(ETL_VARIABLES), retry=RetryPolicy.from_settings(settings))
            result = bucket_completeness(run_date, written, samples)
        except EtlError as exc:
            result = bucket_completeness(run_date, written, note=f"Why could not be worked out: {exc}")
    metadata: dict = {"buckets": MetadataValue.json(result.buckets)}
    if result.missing:
        metadata["missing_by_reason"] = MetadataValue.json(result.missing)
    severity = AssetCheckSeverity.WARN if result.explained_by_source else AssetCheckSeverity.ERROR
    return AssetCheckResult(passed=result.passed, severity=severity, description=result.describe(), metadata=metadata)


class QualityThreshold(Config):
    min_share: float = Field(
        0.95, ge=0.0, le=1.0, description="Least share (0..1) of a variable's samples that pass the quality checks."
    )


@asset_check(
    asset=daily_statistics,
    partitions_def=daily_partitions,
    description="Each variable's share of good samples that day, as recorded in runs/<date>.ipynb, reaches "
    "min_share (a warning below it).",
)
def quality_above_threshold(context: AssetCheckExecutionContext, config: QualityThreshold) -> AssetCheckResult:
    report = report_path(dt.date.fromisoformat(context.partition_key), get_settings())
    if not report.exists():
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.WARN,
            description=f"There is no audit notebook {report}; materialize this partition first.",
        )
    recorded = read_recorded(report)
    verdict = quality_verdict(recorded, config.min_share, str(report))
    metadata: dict = {"min_share": MetadataValue.float(config.min_share), "notebook": MetadataValue.path(str(report))}
    for variable, share in (recorded.get("quality") or {}).items():
        metadata[f"quality/{variable}"] = MetadataValue.float(float(share))
    if recorded.get("flag_counts"):
        metadata["flag_counts"] = MetadataValue.json(recorded["flag_counts"])
    return AssetCheckResult(
        passed=verdict.passed, severity=AssetCheckSeverity.WARN, description=verdict.description, metadata=metadata
    )


daily_etl_job = define_asset_job(
    "daily_etl_job",
    selection=AssetSelection.assets(daily_statistics),
    description="The ETL for one UTC day (a partition) and the day's checks.",
)

# Checks alone: Dagster 1.13 gives a job without assets no partitions, so a run of it names its
# day with the tag Dagster sets on partitioned runs: --tags '{"dagster/partition": "2024-10-02"}'.
daily_checks_job = define_asset_job(
    "daily_checks_job",
    selection=AssetSelection.checks_for_assets(daily_statistics),
    description="Only the checks of one UTC day, against what the target and runs/ hold now. Name the day "
    'with the run tag {"dagster/partition": "YYYY-MM-DD"}.',
)

daily_etl_schedule = build_schedule_from_partitioned_job(
    daily_etl_job,
    name="daily_etl_schedule",
    hour_of_day=0,
    minute_of_hour=15,
    description="At 00:15 UTC, the ETL for the day that just ended.",
)


def build_defs(settings: Settings | None = None) -> Definitions:
    settings = settings or get_settings()
    return Definitions(
        assets=[daily_statistics],
        asset_checks=[all_buckets_written, quality_above_threshold],
        jobs=[daily_etl_job, daily_checks_job],
        schedules=[daily_etl_schedule],
        # Steps run in the run's own process: a process per step would import Dagster, pandas and
        # papermill again for the two checks, seconds each on a small machine.
        executor=in_process_executor,
        resources={
            "source_api": SourceApi.from_settings(settings),
            "target_database": TargetDatabase.from_settings(settings),
        },
    )


defs = build_defs()
