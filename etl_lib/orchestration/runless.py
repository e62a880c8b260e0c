"""Days run without Dagster (``etl run``, ``etl backfill``), reported to Dagster's instance, so that
Dagster and the command line agree on what is materialized.

Each run becomes an event of the partition (its farm's day) of ``daily_statistics`` in the instance, carrying
the metadata a materialization by Dagster carries (``assets.record_metadata`` of the run's record and
``assets.report_metadata`` of its report): a succeeded run of the whole farm a runless
``AssetMaterialization`` (the partition shows as materialized), a succeeded run of named turbines an
``AssetObservation`` (it re-ran part of the day, so the farm's materialization stands), a failed run
nothing (nothing was written). ``ops`` calls this only when ``DAGSTER_HOME`` is set, so the command line
does not import Dagster otherwise.
"""

# No `from __future__ import annotations`: as the rest of the package.
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dagster import AssetMaterialization, AssetObservation, DagsterInstance, MetadataValue

from ..core.contract import DEFAULT_FARM, RunStatus
from .assets import ASSET_NAME, record_metadata, report_metadata
from .coverage import partition_key


@dataclass(frozen=True)
class RunOutcome:
    """A run as the command line ended it: its record (``etl_run`` row), its report (None: none), and
    whether it covered the whole farm."""

    record: dict
    report: Path | None = None
    whole_farm: bool = True


def run_event(run: RunOutcome, via: str) -> AssetMaterialization | AssetObservation | None:
    """The event that tells Dagster of ``run`` (``via``: the command that ran it), or None (a failed run)."""
    record = run.record
    if record.get("status") != RunStatus.SUCCEEDED:
        return None
    metadata = {**(report_metadata(run.report) if run.report else {}), **record_metadata(record)}
    metadata["run key"] = MetadataValue.text(str(record["key"]))
    if record.get("report_error"):
        metadata["report_error"] = MetadataValue.text(record["report_error"])
    day, farm = record["run_date"].isoformat(), record.get("farm") or DEFAULT_FARM
    partition = partition_key(farm, day)
    if run.whole_farm:
        return AssetMaterialization(
            asset_key=ASSET_NAME,
            partition=partition,
            description=f"{day} of {farm} written by `{via}` (etl_run {record['id']}), outside Dagster.",
            metadata=metadata,
        )
    turbines = ", ".join(record.get("turbines") or [])
    return AssetObservation(
        asset_key=ASSET_NAME,
        partition=partition,
        description=f"{day} of {farm} re-run for {turbines} only by `{via}` (etl_run {record['id']}): part of the "
        "day, so the day's materialization stays the whole farm's run.",
        metadata=metadata,
    )


def report_runs(home: Path, runs: Iterable[RunOutcome], via: str) -> int:
    """Report each run to the Dagster instance in ``home`` (``DAGSTER_HOME``); how many events were
    reported. Raises what Dagster raises when the instance cannot be opened or written."""
    events = [event for event in (run_event(run, via) for run in runs) if event is not None]
    if not events:
        return 0
    with DagsterInstance.from_config(str(home)) as instance:
        for event in events:
            instance.report_runless_asset_event(event)
    return len(events)
