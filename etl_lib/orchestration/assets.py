"""The Dagster asset: one UTC day of the ETL's signals, materialized by the ETL notebook.

A partition runs the same notebook as ``etl run`` (papermill, no dagstermill) into
``runs/<date>.ipynb``, so a run from Dagster and one from the CLI leave the same target rows and
the same report; what the notebook recorded (``reports.recorded``) becomes the metadata, and the
report's HTML export (``runs/<date>.html``) its link. A day without source data is skipped, not
failed: the step ends without a materialization, says why, and the day's checks are skipped.

The asset is built for the partitions of the source (``coverage.source_partitions``), which
are known only when Dagster loads the definitions; hence a function, not a module-level asset.
"""

# No `from __future__ import annotations`: Dagster reads the type hints of assets.
import datetime as dt
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
from ..core.errors import EtlError, NotebookRunError
from ..pipeline.extract import RetryPolicy
from ..reports.export import export_html
from ..reports.notebooks import run_notebook
from ..reports.recorded import read_recorded, succeeded
from .coverage import fetch_coverage, no_source_data, samples_on
from .resources import SourceApi, TargetDatabase, notebook_inputs, run_settings

ASSET_NAME = "daily_statistics"
SKIPPED_TAG = "wind_etl/skipped"
# Markdown in the UI: a path with <date> goes in a code span, or the browser takes <date> for a tag.
DESCRIPTION = (
    "One UTC day of the farm: every turbine's 10-minute signals (mean, min, max, std, and the samples' count and "
    "quality per bucket), written to the target by `notebooks/etl.ipynb` (papermill), whose executed copy "
    "`runs/<date>.ipynb` is the day's audit report (linked as its HTML export, `runs/<date>.html`). "
    "A day without source data is skipped, with the reason."
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
    """The asset's body: skip a day without source data, else run the notebook and report."""
    day = dt.date.fromisoformat(context.partition_key)
    settings = run_settings(source_api, target_database)
    try:
        with source_api.get_client() as client:
            retry = RetryPolicy.from_settings(settings)
            if samples_on(client, day, retry) == 0:
                reason = no_source_data(day, fetch_coverage(client, retry))
                context.log.warning(f"Skipped: {reason}")
                context.instance.add_run_tags(
                    context.run.run_id, {SKIPPED_TAG: f"no source data for {day.isoformat()}"}
                )
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
    context.log.info(f"Running the ETL notebook for {day.isoformat()} against {settings.api_base_url}")
    try:
        with environment(env):  # the notebook's kernel copies this process's environment
            report = run_notebook(day, settings, parameters=parameters)
    except NotebookRunError as exc:
        export_html(exc.report)
        raise failure(exc, report_metadata(exc.report)) from None
    except EtlError as exc:
        raise failure(exc) from None
    recorded = read_recorded(report)
    export_html(report)
    if not succeeded(recorded):
        raise Failure(
            description=f"{report} ran without error but recorded no successful run ({recorded or 'nothing'}). "
            "Check that notebooks/etl.ipynb still ends with its recorded.record_run(result) cell.",
            metadata=report_metadata(report),
        )
    yield MaterializeResult(metadata={**report_metadata(report), **recorded_metadata(recorded)})


def recorded_metadata(recorded: dict) -> dict:
    """What the notebook recorded, as Dagster metadata (whatever keys it has)."""
    metadata: dict = {}
    for key in ("rows_read", "buckets", "rows_written"):
        if key in recorded:
            metadata[key] = MetadataValue.int(int(recorded[key]))
    if recorded.get("turbines"):
        metadata["turbines"] = MetadataValue.json(recorded["turbines"])
    metadata.update(quality_metadata(recorded))
    for key in ("flag_counts", "seconds"):
        if key in recorded:
            metadata[key] = MetadataValue.json(recorded[key])
    return metadata


def quality_metadata(recorded: dict) -> dict:
    """``quality/<turbine>/<variable>``: each share of good samples the notebook recorded."""
    return {
        f"quality/{turbine}/{variable}": MetadataValue.float(float(share))
        for turbine, shares in (recorded.get("quality") or {}).items()
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
