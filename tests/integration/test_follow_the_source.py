"""Dagster follows the source (docs/live.md): the observable source asset ``source_days`` records a new data
version only for the farm's days whose fingerprints changed, and the automation (evaluated as the daemon's
sensor evaluates it) asks exactly those partitions of daily_statistics, an old day included; materialized, the
day equals the SQL statistics of the source. Nothing changed: nothing asked. The freshness check says when
the target lags the source.

A farm of the test's own (its source, target and API, ``harness/own_farm.py``), seeded with a few days.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, evaluate_automation_conditions, materialize
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._core.definitions.temporal_context import TemporalContext
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster._time import get_current_datetime
from sqlalchemy import text

from etl_lib.core.contract import DEFAULT_FARM, SOURCE_VARIABLES
from etl_lib.orchestration.assets import ASSET_NAME
from etl_lib.orchestration.coverage import partition_key
from etl_lib.orchestration.definitions import build_defs
from etl_lib.orchestration.kpis import DAILY_KPIS
from etl_lib.orchestration.source import FRESHNESS_JOB, OBSERVE_JOB, SOURCE_DAYS
from etl_lib.simulation import generator
from etl_lib.storage.copy import copy_frame
from etl_lib.storage.engines import target_engine
from harness.own_farm import own_farm, seed, source_of
from harness.sql import assert_statistics_equal_sql

FIRST, DAYS = dt.date(2024, 10, 1), 3
LATE_DAY = FIRST + dt.timedelta(days=DAYS)  # the day after the seeded ones: it arrives as the test goes
OLD_DAY = FIRST + dt.timedelta(days=1)  # a seeded day, one value of which changes
LIBRARY = {"ops": {ASSET_NAME: {"config": {"report": False}}}}


def samples_of(day: dt.date, hours: tuple[int, int]) -> pd.DataFrame:
    """The default farm's samples of ``day`` from hour ``hours[0]`` to ``hours[1]`` (excluded), as the source holds
    them (a ``turbine_id`` column)."""
    frames = []
    for number, (_, frame) in enumerate(generator.generate(start=day, days=1), start=1):
        hour = frame["timestamp"].dt.hour
        frame = frame[(hour >= hours[0]) & (hour < hours[1])]
        frames.append(frame[["timestamp", *SOURCE_VARIABLES]].assign(turbine_id=number))
    return pd.concat(frames, ignore_index=True)


class Dagster:
    """The definitions as ``dagster dev`` loads them, an instance, and the automation's cursor between ticks."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.defs = build_defs(settings)  # ETL_DAGSTER_STALE_RETRY_MINUTES: the fixture's 0
        self.instance = DagsterInstance.ephemeral()
        self.cursor = None

    def observe(self) -> None:
        result = self.defs.resolve_job_def(OBSERVE_JOB).execute_in_process(instance=self.instance)
        assert result.success

    def asked(self) -> set[str]:
        """The partitions of daily_statistics the automation asks for on its next tick."""
        result = evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        return {
            str(key)
            for evaluation in result.results
            if evaluation.key == AssetKey(ASSET_NAME)
            for key in evaluation.true_subset.expensively_compute_partition_keys()
        }

    def asked_within(self, observations: int) -> tuple[set[str], int]:
        """Observe and tick until the automation asks for something, at most ``observations`` times: what it asked
        for, and after how many observations."""
        for count in range(1, observations + 1):
            self.observe()
            asked = self.asked()
            if asked:
                return asked, count
        return set(), observations

    def materialize(self, partition: str) -> None:
        assets = [self.defs.resolve_assets_def(SOURCE_DAYS), self.defs.resolve_assets_def(ASSET_NAME)]
        result = materialize(
            assets,
            selection=[ASSET_NAME],
            partition_key=partition,  # the resources are the definitions' own, from the settings
            instance=self.instance,
            run_config=LIBRARY,
        )
        assert result.success

    def stale(self, partition: str, asset: str = ASSET_NAME) -> tuple[str, set[str]]:
        """The partition's stale status as the UI shows it (Dagster's own resolver, as its GraphQL
        ``staleStatusByPartition`` uses it) and the upstream partitions it names as the cause."""
        graph = self.defs.resolve_asset_graph()
        view = AssetGraphView(
            temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
            instance=self.instance,
            asset_graph=graph,
        )
        resolver = CachingStaleStatusResolver(instance=self.instance, asset_graph=graph, loading_context=view)
        causes = resolver.get_stale_causes(AssetKey(asset), partition)
        return resolver.get_status(AssetKey(asset), partition).value, {
            f"{cause.dependency.asset_key.to_user_string()}[{cause.dependency.partition_key}]"
            for cause in causes
            if cause.dependency is not None
        }

    def freshness(self):
        result = self.defs.resolve_job_def(FRESHNESS_JOB).execute_in_process(instance=self.instance)
        [evaluation] = result.get_asset_check_evaluations()
        return evaluation


@pytest.fixture
def farm(settings):
    with own_farm(settings) as own:
        seed(own, days=DAYS)
        yield own.model_copy(update={"dagster_stale_retry_minutes": 0.0})


def test_dagster_materializes_exactly_the_days_whose_source_changed(farm):
    source_engine, target = source_of(farm), target_engine(farm)
    dagster = Dagster(farm)
    late_day = LATE_DAY
    late = str(partition_key(DEFAULT_FARM, late_day))
    dagster.observe()
    assert dagster.asked() == set()  # the first tick: what the source holds is where the automation starts

    # A new day arrives (its first hours): it is a partition already, and only it is asked for.
    with source_engine.begin() as conn:
        copy_frame(conn, "data", samples_of(late_day, (0, 6)))
    dagster.observe()
    assert dagster.asked() == {late}
    dagster.materialize(late)
    assert_statistics_equal_sql(source_engine, target, late_day)
    # The day is not over: its buckets are judged up to its run's complete_until (06:00), not against 144.
    checks = dagster.defs.resolve_job_def("daily_checks_job").execute_in_process(
        instance=dagster.instance, tags={"dagster/partition": late}
    )
    [buckets] = [e for e in checks.get_asset_check_evaluations() if e.check_name == "all_buckets_written"]
    assert buckets.passed and "complete until 06:00 UTC" in buckets.description, buckets.description

    # Nothing changed: observed again, nothing is asked.
    dagster.observe()
    assert dagster.asked() == set()

    # The target lags the source by the six hours the feed adds now: the freshness check says so (a warning).
    with source_engine.begin() as conn:
        copy_frame(conn, "data", samples_of(late_day, (6, 12)))
    evaluation = dagster.freshness()
    assert not evaluation.passed and "360 min" in evaluation.description, evaluation.description
    dagster.observe()
    assert dagster.asked() == {late}
    dagster.materialize(late)
    assert_statistics_equal_sql(source_engine, target, late_day)
    assert dagster.freshness().passed

    # One value of an old day changes: that day is asked for, and no other.
    old = str(partition_key(DEFAULT_FARM, OLD_DAY))
    instant = dt.datetime.combine(OLD_DAY, dt.time(13, 7), tzinfo=dt.UTC)
    where = {"turbine": 2, "at": instant}
    change = 'UPDATE data SET power = :power WHERE turbine_id = :turbine AND "timestamp" = :at'
    with source_engine.begin() as conn:
        power = conn.execute(
            text('SELECT power FROM data WHERE turbine_id = :turbine AND "timestamp" = :at'), where
        ).scalar_one()
        conn.execute(text(change), {**where, "power": power + 1.5})
    dagster.observe()
    assert dagster.asked() == {old}
    dagster.materialize(old)
    assert_statistics_equal_sql(source_engine, target, OLD_DAY)
    # Back as it was, while nothing ticked since the run: Dagster's own automation takes the run for the handling
    # of the change (both between two ticks), so the observation after asks for the day again.
    with source_engine.begin() as conn:
        conn.execute(text(change), {**where, "power": power})
    assert dagster.stale(old) == ("FRESH", set())  # the run read the source as it was then
    asked, observations = dagster.asked_within(2)
    assert asked == {old} and observations <= 2
    # Dagster shows the day stale, naming the source's day as the cause, until it is materialized again.
    assert dagster.stale(old) == ("STALE", {f"{SOURCE_DAYS}[{old}]"})
    dagster.materialize(old)
    assert dagster.stale(old) == ("FRESH", set())
    assert_statistics_equal_sql(source_engine, target, OLD_DAY)
    assert dagster.asked_within(2) == (set(), 2)  # caught up: nothing asked, however often observed


def test_a_day_run_as_a_range_of_one_runs_its_kpis_and_checks(farm):
    """When one tick asks for several days, the daemon launches them as an asset backfill whose runs name their
    partition as a range of one day (``dagster/asset_partition_range_start`` = ``_end``), not with
    ``dagster/partition``: the day is still the step's output, so daily_kpis and the day's checks run after it
    (they were skipped, the backfill ending COMPLETED_FAILED)."""
    dagster = Dagster(farm)
    day = str(partition_key(DEFAULT_FARM, OLD_DAY))
    result = dagster.defs.resolve_job_def("daily_etl_job").execute_in_process(
        instance=dagster.instance,
        run_config=LIBRARY,
        tags={ASSET_PARTITION_RANGE_START_TAG: day, ASSET_PARTITION_RANGE_END_TAG: day},
    )
    assert result.success
    materialized = {
        (event.asset_key.path[-1], str(event.partition)) for event in result.get_asset_materialization_events()
    }
    assert materialized == {(ASSET_NAME, day), ("daily_kpis", day)}
    checks = {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}
    assert {"all_buckets_written", "quality_above_threshold", "kpi_sum_rule"} <= set(checks), checks
    assert checks["kpi_sum_rule"], checks  # evaluated, not skipped; the sum rule holds on any day
    assert_statistics_equal_sql(source_of(farm), target_engine(farm), OLD_DAY)


def test_a_day_of_a_run_of_several_shows_stale_when_its_source_changes(farm):
    """A run of several days (the automation's catch-up, a grouped backfill) reports each day with its own
    materialization: each carries the provenance a run of one records, so the UI marks exactly the changed day
    stale (it stayed FRESH: Dagster records no provenance on such events), then fresh when it ran again, and
    daily_kpis of that day stale behind it until it follows."""
    dagster = Dagster(farm)
    days = [str(partition_key(DEFAULT_FARM, FIRST + dt.timedelta(days=n))) for n in range(DAYS)]
    dagster.observe()
    result = dagster.defs.resolve_job_def("daily_etl_job").execute_in_process(
        instance=dagster.instance,
        run_config=LIBRARY,
        tags={ASSET_PARTITION_RANGE_START_TAG: days[0], ASSET_PARTITION_RANGE_END_TAG: days[-1]},
    )
    assert result.success
    # daily_kpis over the same days, in one run too (as the automation asks for it after such a run)
    assets = [dagster.defs.resolve_assets_def(name) for name in (SOURCE_DAYS, ASSET_NAME, DAILY_KPIS)]
    range_of_days = {ASSET_PARTITION_RANGE_START_TAG: days[0], ASSET_PARTITION_RANGE_END_TAG: days[-1]}
    assert materialize(assets, selection=[DAILY_KPIS], instance=dagster.instance, tags=range_of_days).success
    for asset in (ASSET_NAME, DAILY_KPIS):
        assert all(dagster.stale(day, asset) == ("FRESH", set()) for day in days)
    old = str(partition_key(DEFAULT_FARM, OLD_DAY))
    with source_of(farm).begin() as conn:
        conn.execute(
            text('UPDATE data SET power = power + 1.5 WHERE turbine_id = 2 AND "timestamp" = :at'),
            {"at": dt.datetime.combine(OLD_DAY, dt.time(13, 7), tzinfo=dt.UTC)},
        )
    dagster.observe()
    assert {day: dagster.stale(day) for day in days} == {
        day: ("STALE", {f"{SOURCE_DAYS}[{day}]"}) if day == old else ("FRESH", set()) for day in days
    }
    dagster.materialize(old)
    assert dagster.stale(old) == ("FRESH", set())
    assert {day: dagster.stale(day, DAILY_KPIS) for day in days} == {
        day: ("STALE", {f"{ASSET_NAME}[{day}]"}) if day == old else ("FRESH", set()) for day in days
    }
    assert_statistics_equal_sql(source_of(farm), target_engine(farm), OLD_DAY)
