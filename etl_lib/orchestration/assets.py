"""The Dagster asset: one UTC day of one farm's ETL signals, materialized by the ETL notebook.

A partition (farm x day) runs the same notebook as ``etl run --farm FARM`` (papermill, no dagstermill) into
``runs/<date>.ipynb`` (``runs/<farm>/<date>.ipynb`` when the source holds several farms), so a run from
Dagster and one from the CLI leave the same target rows and the same report; the run's record (its
``etl_run`` row, keyed by the Dagster run's id) becomes the metadata, and the report's HTML export its link.
A farm's day without source data is skipped, not failed: the step ends without a materialization, says why,
and the day's checks are skipped.

The asset is built for the partitions of the source (``coverage.source_partitions``), which
are known only when Dagster loads the definitions; hence a function, not a module-level asset.
"""

# No `from __future__ import annotations`: Dagster reads the type hints of assets.
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetObservation,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from ..config.settings import environment
from ..core.contract import RunStatus
from ..core.errors import EtlError, NotebookRunError
from ..notebook.export import export_html
from ..notebook.runner import run_notebook
from ..pipeline.coverage import day_without_data
from ..pipeline.extract import RetryPolicy, resolve_farm
from .coverage import farm_day
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


def materialize_day(context: AssetExecutionContext, source_api: SourceApi, target_database: TargetDatabase):
    """The asset's body: skip a farm's day without source data, else run the notebook and report."""
    farm, day = farm_day(context.partition_key)
    settings = run_settings(source_api, target_database)
    try:
        with source_api.get_client() as client:
            retry = RetryPolicy.from_settings(settings)
            _, farms = resolve_farm(client, farm, retry=retry)  # a farm the source no longer has: failed, named
            fleet = len(farms) > 1
            missing = day_without_data(client, day, retry, farm=farm if fleet else None)
            if missing is not None:
                reason = str(missing)
                context.log.warning(f"Skipped: {reason}")
                which = f"{farm} {day.isoformat()}" if fleet else day.isoformat()
                context.instance.add_run_tags(context.run.run_id, {SKIPPED_TAG: f"no source data for {which}"})
                yield AssetObservation(
                    asset_key=context.asset_key,
                    partition=context.partition_key,
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
                day,
                settings,
                parameters=parameters,
                key=context.run.run_id,
                farm=farm if fleet else None,
                fleet=fleet,
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
    yield MaterializeResult(metadata={**report_metadata(done.report), **record_metadata(done.record)})


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


def build_daily_statistics(partitions: PartitionsDefinition, note: str = "") -> AssetsDefinition:
    """The asset over ``partitions``; ``note`` (how they were decided) ends its description."""

    @asset(
        name=ASSET_NAME,
        partitions_def=partitions,
        group_name="wind_etl",
        kinds={"python", "jupyter", "postgres"},
        description=f"{DESCRIPTION} {note}".strip(),
        output_required=False,  # a day without source data materializes nothing
    )
    def daily_statistics(context: AssetExecutionContext, source_api: SourceApi, target_database: TargetDatabase):
        yield from materialize_day(context, source_api, target_database)

    return daily_statistics
