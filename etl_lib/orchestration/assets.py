"""The Dagster asset: one UTC day of one farm's ETL signals, materialized by the ETL notebook or by the library.

A partition (farm x day) runs the same notebook as ``etl run --farm FARM`` (papermill, no dagstermill) into
``runs/<date>.ipynb`` (``runs/<farm>/<date>.ipynb`` when the source holds several farms), so a run from
Dagster and one from the CLI leave the same target rows and the same report; the run's record (its
``etl_run`` row, keyed by the Dagster run's id) becomes the metadata, and the report's HTML export its link.
A farm's day without source data is skipped, not failed: the step ends without a materialization, says why,
and the day's checks are skipped.

When nobody reads the report (run config ``report: false``, as a backfill through the workers has it),
a partition runs the library alone (``run_etl``, as ``etl run --no-report``): the same rows and the same
run record, without the notebook's kernel. A backfill groups partitions into runs
(``BackfillPolicy.multi_run``, ``ETL_DAGSTER_DAYS_PER_RUN`` per run); such a run materializes each of its
days as it is written. On the library path a day's record is keyed by the run's root (the first
attempt of a retried run) and the partition, so a retried run finds the days an earlier attempt
wrote and does not write them again.

The asset is built for the partitions of the source (``coverage.source_partitions``), which
are known only when Dagster loads the definitions; hence a function, not a module-level asset.
"""

# No `from __future__ import annotations`: Dagster reads the type hints of assets.
import datetime as dt
import hashlib
import warnings
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    AssetObservation,
    AssetsDefinition,
    AutomationCondition,
    BackfillPolicy,
    BetaWarning,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)
from pydantic import Field

from ..config.settings import environment
from ..core.contract import RunStatus
from ..core.errors import EtlError, NoSourceDataError, NotebookRunError
from ..notebook.export import export_html
from ..notebook.runner import run_notebook
from ..pipeline.coverage import day_without_data
from ..pipeline.extract import RetryPolicy, resolve_farm
from ..pipeline.run import run_etl
from ..storage.run_record import read_run
from ..storage.target import ensure_target_schema
from .coverage import farm_day
from .instance import SOURCE_API_POOL
from .provenance import day_provenance
from .resources import SourceApi, TargetDatabase, notebook_inputs, run_settings

ASSET_NAME = "daily_statistics"
SKIPPED_TAG = "wind_etl/skipped"
# Markdown in the UI: a path with <date> goes in a code span, or the browser takes <date> for a tag.
DESCRIPTION = (
    "One UTC day of one farm (a partition: farm x day): every turbine's 10-minute signals (mean, min, max, std, "
    "and the samples' count and quality per bucket), written to the target by `notebooks/etl.ipynb` (papermill), "
    "whose executed copy `runs/<date>.ipynb` (`runs/<farm>/<date>.ipynb` in a fleet of several farms) is the "
    "day's audit report (linked as its HTML export). A farm's day without source data is skipped, with the reason."
)


class DayRun(Config):
    report: bool = Field(
        True,
        description="Execute the audit notebook for each day (runs/<date>.ipynb). false: the library alone "
        "(run_etl), for backfills nobody reads the report of; the run record is written either way.",
    )


def partition_day(partition_key: str) -> dt.date:
    """The UTC day a partition key (farm x day: ``2024-10-02|WF01``) names: the one place a key becomes a day."""
    return farm_day(partition_key)[1]


def partition_farm(partition_key: str) -> str:
    """The farm a partition key names."""
    return farm_day(partition_key)[0]


KEY_LENGTH = 64  # etl_run.key


def day_key(root_run_id: str, partition_key: str) -> str:
    """A day's run key on the library path: the run's root and the partition, the same for every retry of
    the run (at most 64 characters: a longer one is the root and a digest of the partition)."""
    key = f"{root_run_id}/{partition_key}"
    if len(key) <= KEY_LENGTH:
        return key
    return f"{root_run_id}/{hashlib.sha256(partition_key.encode()).hexdigest()[: KEY_LENGTH - len(root_run_id) - 1]}"


def report_metadata(notebook: Path) -> dict:
    """Links to a run's report: its HTML export (when there is one) and the notebook itself, which
    the UI shows with "View Notebook" (for notebooks under the folder Dagster runs in)."""
    metadata: dict = {"notebook": MetadataValue.notebook(str(notebook))}
    html = notebook.with_suffix(".html")
    if html.exists():
        metadata["report"] = MetadataValue.url(html.resolve().as_uri())
    return metadata


def failure(exc: EtlError, metadata: dict | None = None) -> Failure:
    """A failed partition with the project's message, its advice (``What to do: ...``) included,
    and the advice alone as metadata, so the UI shows it beside the report's links."""
    metadata = dict(metadata or {})
    if exc.fix:
        metadata["what to do"] = MetadataValue.text(exc.fix)
    return Failure(description=str(exc), metadata=metadata)


def materialize_days(
    context: AssetExecutionContext, config: DayRun, source_api: SourceApi, target_database: TargetDatabase
):
    """The asset's body: each partition of the run, through the notebook (``report``) or the library."""
    if not config.report:
        yield from library_days(context, source_api, target_database)
    elif len(context.partition_keys) == 1:  # one partition, as a tag or as a range of one (the automation's backfills)
        yield from materialize_day(context, context.partition_keys[0], context.run.run_id, source_api, target_database)
    else:  # a backfill grouped days into this run: a notebook each, one after the other
        root = context.run.root_run_id or context.run.run_id
        failed: dict[str, str] = {}
        for partition_key in context.partition_keys:
            try:
                yield from materialize_day(
                    context, partition_key, day_key(root, partition_key), source_api, target_database, single=False
                )
            except Failure as exc:
                context.log.error(f"{partition_key} failed: {exc.description}")
                failed[partition_key] = exc.description or ""
        if failed:
            raise failed_days(failed, len(context.partition_keys))


def failed_days(failed: dict[str, str], of: int) -> Failure:
    """The step's failure when some of its ``of`` partitions failed (the others are materialized)."""
    _, _, fix = next(iter(failed.values())).partition("What to do: ")
    metadata: dict = {"failed": MetadataValue.json(failed)}
    if fix:
        metadata["what to do"] = MetadataValue.text(fix.strip())
    return Failure(
        description=f"{len(failed)} of {of} partition(s) failed: "
        + "; ".join(f"{key}: {error.splitlines()[0]}" for key, error in failed.items()),
        metadata=metadata,
    )


def library_days(context: AssetExecutionContext, source_api: SourceApi, target_database: TargetDatabase):
    """Each partition of the run through ``run_etl``; a day an earlier attempt of this run wrote is not written
    again; a day without source data is skipped; a failed day does not stop the others, and fails the step."""
    settings = run_settings(source_api, target_database)
    engine = target_database.get_engine()
    ensure_target_schema(engine)  # a new target has no etl_run yet to look in for an earlier attempt's days
    root = context.run.root_run_id or context.run.run_id
    single = len(context.partition_keys) == 1  # a range of one day too: its output, so its checks run after it
    failed: dict[str, str] = {}
    with source_api.get_client() as client:
        for partition_key in context.partition_keys:
            day, key = partition_day(partition_key), day_key(root, partition_key)
            provenance = None if single else day_provenance(context, partition_key)  # what the day follows, as read
            record = read_run(engine, key)
            if record is not None and record["status"] == RunStatus.SUCCEEDED:
                context.log.info(f"{partition_key}: written by an earlier attempt of this run (etl_run {record['id']})")
            else:
                try:
                    run_etl(day, settings, client=client, key=key, farm=partition_farm(partition_key))
                except NoSourceDataError as exc:
                    context.log.warning(f"Skipped {partition_key}: {exc}")
                    yield AssetObservation(
                        asset_key=context.asset_key,
                        partition=partition_key,
                        description=f"Skipped: {exc}",
                        metadata={"skipped": MetadataValue.text(str(exc))},
                    )
                    continue
                except EtlError as exc:
                    context.log.error(f"{partition_key} failed: {exc}")
                    failed[partition_key] = str(exc)
                    continue
                record = read_run(engine, key)
            metadata = {**record_metadata(record), "run key": MetadataValue.text(key)}
            if single:
                yield MaterializeResult(metadata=metadata)
            else:
                yield AssetMaterialization(
                    asset_key=context.asset_key, partition=partition_key, metadata=metadata, tags=provenance
                )
    if failed:
        raise failed_days(failed, len(context.partition_keys))


def materialize_day(
    context: AssetExecutionContext,
    partition_key: str,
    key: str,
    source_api: SourceApi,
    target_database: TargetDatabase,
    *,
    single: bool = True,
):
    """One partition (a farm's day) through the notebook under the run key ``key``: skip a day without source
    data, else run the notebook and report (``single``: the run's only partition, materialized by the step's
    result)."""
    farm, day = farm_day(partition_key)
    settings = run_settings(source_api, target_database)
    provenance = None if single else day_provenance(context, partition_key)  # what the day follows, as read
    try:
        with source_api.get_client() as client:
            retry = RetryPolicy.from_settings(settings)
            _, farms = resolve_farm(client, farm, retry=retry)  # a farm the source no longer has: failed, named
            fleet = len(farms) > 1
            missing = day_without_data(client, day, retry, farm=farm if fleet else None)
            if missing is not None:
                reason = str(missing)
                context.log.warning(f"Skipped: {reason}")
                if single:
                    which = f"{farm} {day.isoformat()}" if fleet else day.isoformat()
                    context.instance.add_run_tags(context.run.run_id, {SKIPPED_TAG: f"no source data for {which}"})
                yield AssetObservation(
                    asset_key=context.asset_key,
                    partition=partition_key,
                    description=f"Skipped: {reason}",
                    metadata={"skipped": MetadataValue.text(reason)},
                )
                return
    except EtlError as exc:
        raise failure(exc) from None
    parameters, env = notebook_inputs(settings)
    context.log.info(f"Running the ETL notebook for {day.isoformat()} of {farm} against {settings.api_base_url}")
    try:
        with environment(env):  # the notebook's kernel copies this process's environment
            # A source of one farm: the farm's report as `etl run DATE` makes it; a fleet's names its farm.
            done = run_notebook(
                day, settings, parameters=parameters, key=key, farm=farm if fleet else None, fleet=fleet
            )
    except NotebookRunError as exc:
        export_html(exc.report)
        raise failure(exc, {**report_metadata(exc.report), **record_metadata(exc.record)}) from None
    except EtlError as exc:
        raise failure(exc, record_metadata(getattr(exc, "record", None))) from None
    export_html(done.report)
    if not done.record or done.record["status"] != RunStatus.SUCCEEDED:
        raise Failure(
            description=f"{done.report} ran without error, but the target's etl_run holds no succeeded run with "
            f"this Dagster run's key ({done.key}). Check that notebooks/etl.ipynb still passes run_key to run_etl.",
            metadata=report_metadata(done.report),
        )
    metadata = {**report_metadata(done.report), **record_metadata(done.record)}
    if single:
        yield MaterializeResult(metadata=metadata)
    else:
        yield AssetMaterialization(
            asset_key=context.asset_key, partition=partition_key, metadata=metadata, tags=provenance
        )


def record_metadata(record: dict | None) -> dict:
    """A run's record (its ``etl_run`` row) as Dagster metadata: the row's id, counts, turbines, quality,
    flag counts and seconds; nothing for no record."""
    if not record:
        return {}
    metadata: dict = {"etl_run": MetadataValue.int(int(record["id"])), "status": MetadataValue.text(record["status"])}
    if record.get("farm"):
        metadata["farm"] = MetadataValue.text(record["farm"])
    for key in ("rows_read", "buckets", "rows_written"):
        if record.get(key) is not None:
            metadata[key] = MetadataValue.int(int(record[key]))
    if record.get("turbines"):
        metadata["turbines"] = MetadataValue.json(record["turbines"])
    metadata.update(quality_metadata(record))
    for key in ("flag_counts", "seconds"):
        if record.get(key):
            metadata[key] = MetadataValue.json(record[key])
    return metadata


def quality_metadata(record: dict) -> dict:
    """``quality/<turbine>/<variable>``: each share of good samples of the run's record."""
    return {
        f"quality/{turbine}/{variable}": MetadataValue.float(float(share))
        for turbine, shares in (record.get("quality") or {}).items()
        for variable, share in shares.items()
    }


def build_daily_statistics(
    partitions: PartitionsDefinition,
    note: str = "",
    days_per_run: int = 1,
    source: AssetsDefinition | None = None,
    automation: AutomationCondition | None = None,
) -> AssetsDefinition:
    """The asset over ``partitions``; ``note`` (how they were decided) ends its description; a backfill groups
    ``days_per_run`` partitions into a run; it depends on ``source`` (the observable source ``source_days``, same
    partitions) and materializes by ``automation``, when given."""
    # backfill_policy is a beta parameter of @asset in Dagster 1.13 (pinned); its warning at each build is noise.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)
        return _daily_statistics(partitions, note, days_per_run, source, automation)


def _daily_statistics(
    partitions: PartitionsDefinition,
    note: str,
    days_per_run: int,
    source: AssetsDefinition | None,
    automation: AutomationCondition | None,
) -> AssetsDefinition:
    @asset(
        name=ASSET_NAME,
        partitions_def=partitions,
        deps=[source] if source is not None else None,
        automation_condition=automation,
        group_name="wind_etl",
        kinds={"python", "jupyter", "postgres"},
        description=f"{DESCRIPTION} {note}".strip(),
        output_required=False,  # a day without source data materializes nothing
        backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=days_per_run),
        pool=SOURCE_API_POOL,
    )
    def daily_statistics(
        context: AssetExecutionContext, config: DayRun, source_api: SourceApi, target_database: TargetDatabase
    ):
        yield from materialize_days(context, config, source_api, target_database)

    return daily_statistics
