"""A backfill of ``daily_statistics`` queued in Dagster's instance, as the UI's "Materialize selected" on a
range of partitions does: an *asset* backfill, so the daemon honours the asset's ``BackfillPolicy`` and
groups days into runs (a backfill of a job, ``dagster job backfill``, launches one run per partition
whatever the policy). The daemon launches its runs; on the Celery executor their steps run on the workers.

``queue_backfill`` takes the partitions (farm x day) whose day is in ``[first, last]``, of every farm or of the
one named (``assets.partition_day``, ``assets.partition_farm``: the keys are opaque here), ``wait_backfill``
follows it to its end. The asset's ``BackfillPolicy`` groups the days of one farm into a run (Dagster ranges a
multi-partitioned subset along its dimension of fewer keys: the farms, as a fleet has fewer farms than days).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from dagster import AssetKey, DagsterInstance, DagsterRunStatus, Definitions, RunsFilter

from .assets import ASSET_NAME, partition_day, partition_farm

BACKFILL_TAG = "dagster/backfill"


def partitions_between(defs: Definitions, first: dt.date, last: dt.date, farm: str | None = None) -> list[str]:
    """The asset's partition keys whose day is in ``[first, last]`` (of the farm ``farm``; None: of every farm)."""
    partitions = defs.resolve_assets_def(ASSET_NAME).partitions_def
    return [
        key
        for key in partitions.get_partition_keys()
        if first <= partition_day(key) <= last and farm in (None, partition_farm(key))
    ]


def queue_backfill(
    instance: DagsterInstance,
    defs: Definitions,
    first: dt.date,
    last: dt.date,
    *,
    report: bool = False,
    farm: str | None = None,
) -> tuple[str, list[str]]:
    """Queue a backfill of the days ``[first, last]`` of every farm (or of ``farm``); its id and its partition
    keys. ``report=False`` runs the library alone (no notebook, the run record still written)."""
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    partitions = defs.resolve_assets_def(ASSET_NAME).partitions_def
    farms = partitions.get_partitions_def_for_dimension("farm").get_partition_keys()
    if farm is not None and farm not in farms:
        from ..core.errors import FarmChoiceError

        raise FarmChoiceError(
            f"{ASSET_NAME} has no partitions of farm {farm[:64]!r}.",
            f"Pick from: {', '.join(farms)} (the farms of the source when the definitions loaded).",
        )
    keys = partitions_between(defs, first, last, farm)
    if not keys:
        from ..core.errors import InvalidDateError

        days = partitions.get_partitions_def_for_dimension("day")
        raise InvalidDateError(
            f"No partition of {ASSET_NAME} falls in {first} to {last}: the partitions run from "
            f"{days.get_first_partition_key()} to {days.get_last_partition_key()}.",
            "Pick days inside them (they follow the source: reload the definitions after seeding more).",
            value=(first, last),
        )
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=defs.resolve_asset_graph(),
        partition_names=keys,
        asset_selection=[AssetKey(ASSET_NAME)],
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=f"{ASSET_NAME} {first} to {last}" + ("" if farm is None else f" of {farm}"),
        description=f"etl dagster backfill {first} {last}"
        + ("" if farm is None else f" --farm {farm}")
        + ("" if report else " (library, no reports)"),
        run_config={"ops": {ASSET_NAME: {"config": {"report": report}}}},
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id, keys


@dataclass(frozen=True)
class BackfillOutcome:
    backfill_id: str
    status: str  # Dagster's BulkActionStatus name
    runs: int
    failed_runs: int  # attempts that failed (a retried run that then succeeded counts here too)
    materialized: list[str]  # partition keys materialized by its runs
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED_SUCCESS"


def backfill_runs(instance: DagsterInstance, backfill_id: str) -> list:
    return list(instance.get_runs(RunsFilter(tags={BACKFILL_TAG: backfill_id})))


def wait_backfill(
    instance: DagsterInstance, backfill_id: str, keys: list[str], timeout: float, started: float | None = None
) -> BackfillOutcome:
    """Follow the backfill until the daemon has ended it (or ``timeout`` seconds): its status, runs and
    the partitions materialized. Raises ``TimeoutError`` when it has not ended by then."""
    from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES

    started = started or time.monotonic()
    deadline = started + timeout
    while True:
        backfill = instance.get_backfill(backfill_id)
        if backfill is not None and backfill.status in BULK_ACTION_TERMINAL_STATUSES:
            runs = backfill_runs(instance, backfill_id)
            if all(run.is_finished for run in runs):
                break
        if time.monotonic() > deadline:
            state = backfill.status.value if backfill is not None else "missing"
            raise TimeoutError(f"the backfill {backfill_id} has not ended within {timeout:.0f} s (status {state})")
        time.sleep(0.5)
    materialized = instance.get_materialized_partitions(AssetKey(ASSET_NAME))
    return BackfillOutcome(
        backfill_id,
        backfill.status.value,
        len(runs),
        sum(run.status == DagsterRunStatus.FAILURE for run in runs),
        sorted(set(keys) & set(materialized)),
        time.monotonic() - started,
    )
