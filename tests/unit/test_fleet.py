"""A fleet of farms, without a database: the generated fleet (sites, names, weather of their own, the first
farm the default one), the checks and the potential power keeping each turbine to its own farm, a run's
choice of farm, and the KPIs per farm and for the fleet. (The fleet end to end, through the API, the
target and the command line: tests/integration/test_fleet.py.)"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from etl_lib.core.contract import DEFAULT_FARM, FARM_NAME_PATTERN
from etl_lib.core.errors import ConfigurationError
from etl_lib.core.scope import RunScope
from etl_lib.metrics.farm import farm_reference
from etl_lib.metrics.kpis import FARM, FLEET, as_text, period_kpis
from etl_lib.metrics.potential import potential_power
from etl_lib.metrics.power_curve import BinnedCurve
from etl_lib.pipeline.extract import Site, choose_farm
from etl_lib.pipeline.quality import check_day
from etl_lib.simulation import generator
from etl_lib.simulation.faults import FARM as EVERY_TURBINE
from etl_lib.simulation.faults import Fault, inject
from harness.farm_data import counts, fleet

DAY = dt.date(2024, 10, 3)
CALM, WINDY = generator.WindClimate(mean_speed=4.0), generator.WindClimate(mean_speed=13.0)


def test_a_fleet_is_farms_at_their_own_sites_with_turbines_numbered_across_it():
    farms = generator.build_fleet(3, 4)
    assert [[t.name for t in farm] for farm in farms] == [
        ["WT01", "WT02", "WT03", "WT04"],
        ["WT05", "WT06", "WT07", "WT08"],
        ["WT09", "WT10", "WT11", "WT12"],
    ]
    sites = [farm[0].site for farm in farms]
    assert [site.name for site in sites] == ["WF01", "WF02", "WF03"]
    assert all(t.site == farm[0].site and t.elevation == t.site.elevation for farm in farms for t in farm)
    assert sites[0] == generator.Site()  # the first farm stands where the default farm does
    assert len({(s.latitude, s.longitude) for s in sites}) == 3 and len({s.elevation for s in sites}) == 3
    assert [t.name for t in generator.build_fleet(2, 60)[1]][:2] == ["WT061", "WT062"]  # one width for the fleet
    assert all(pd.Series([s.name for s in sites]).str.fullmatch(FARM_NAME_PATTERN[1:-1]))


def test_the_first_farm_of_a_fleet_is_the_default_farm_and_the_others_have_weather_of_their_own():
    """The default data stays what it was: a fleet's first farm draws from a lone farm's random streams."""
    default = list(generator.generate(generator.build_farm(), DAY, 1))
    first, second = (list(generator.generate(farm, DAY, 1)) for farm in generator.build_fleet(2, 4))
    for (alone, own), (member, theirs) in zip(default, first, strict=True):
        assert alone.name == member.name
        pd.testing.assert_frame_equal(own, theirs)
    wind = pd.DataFrame({t.name: frame["wind_speed"].to_numpy() for t, frame in [*first, *second]})
    assert wind["WT01"].corr(wind["WT02"]) > 0.9  # one farm, one weather
    assert abs(wind["WT01"].corr(wind["WT05"])) < 0.5  # another farm, another weather
    cooler = second[0][1]["ambient_temperature"].mean() - first[0][1]["ambient_temperature"].mean()
    assert cooler < 0  # the second farm stands 110 m higher


def test_a_farm_wide_fault_happens_at_its_farm_only():
    stop = Fault("requested_shutdown", dt.datetime(2024, 10, 3, 12, tzinfo=dt.UTC), 30, turbine=EVERY_TURBINE)
    frame = next(generator.generate(generator.build_farm(), DAY, 1))[1]
    at_first = inject(frame, [stop], 42, turbine="WT05", farm=DEFAULT_FARM)
    at_second = inject(frame, [stop], 42, turbine="WT05", farm="WF02")
    everywhere = inject(frame, [Fault(**{**stop.__dict__, "farm": None})], 42, turbine="WT05", farm="WF02")
    noon = at_first["timestamp"].dt.hour.eq(12) & at_first["timestamp"].dt.minute.lt(30)
    assert (at_first.loc[noon, "power"] < 0).all()  # the default: the first farm's
    pd.testing.assert_frame_equal(at_second, inject(frame, [], 42, turbine="WT05", farm="WF02"))
    assert (everywhere.loc[noon, "power"] < 0).all()


def test_the_farms_reference_of_a_turbine_is_its_own_farms_median():
    rng = np.random.default_rng(7)
    data = pd.DataFrame(rng.normal(8.0, 1.0, (60, 6)), columns=["A1", "A2", "A3", "B1", "B2", "B3"])
    farms = {"A1": "A", "A2": "A", "A3": "A", "B1": "B", "B2": "B", "B3": "B"}
    reference = farm_reference(data, farms)
    pd.testing.assert_frame_equal(reference[["A1", "A2", "A3"]], farm_reference(data[["A1", "A2", "A3"]]))
    pd.testing.assert_frame_equal(reference[["B1", "B2", "B3"]], farm_reference(data[["B1", "B2", "B3"]]))
    stormy = data.assign(B1=80.0, B2=80.0, B3=80.0)  # the other farm, whatever it does, changes nothing
    pd.testing.assert_frame_equal(farm_reference(stormy, farms)[["A1", "A2", "A3"]], reference[["A1", "A2", "A3"]])
    assert not farm_reference(stormy)[["A1", "A2", "A3"]].equals(reference[["A1", "A2", "A3"]])  # it would, mixed
    pd.testing.assert_frame_equal(farm_reference(data, dict.fromkeys(farms, "A")), farm_reference(data))


def checked(samples: pd.DataFrame, turbines: list[str], models, farms=None):
    flags = pd.DataFrame(False, index=samples.index, columns=samples.columns)
    return check_day(samples, flags, RunScope.day(DAY, turbines), models, farms=farms)


def test_a_calm_farm_beside_a_windy_one_is_judged_by_its_own_weather_never_the_other_farms():
    """Two farms of different weather, checked together: with each turbine's farm, no turbine is judged
    against the other farm (the flags are exactly those of each farm checked alone: none, the data being
    clean); without, the calm farm's anemometers read far below the 'farm's' wind and its idle turbines
    look stopped in wind."""
    pair = fleet(DAY, [CALM, WINDY])
    turbines = list(pair.farms)
    by_farm = checked(pair.samples, turbines, pair.models, pair.farms)
    assert counts(by_farm) == {}
    for farm in ("WF01", "WF02"):
        own = pair.of(farm)
        alone = checked(pair.samples.loc[own], own, pair.models)
        pd.testing.assert_frame_equal(by_farm.flags.loc[:, alone.flags.columns], alone.flags)
        pd.testing.assert_frame_equal(by_farm.farm.loc[:, alone.farm.columns], alone.farm)
    mixed = counts(checked(pair.samples, turbines, pair.models))
    calm = pair.of("WF01")
    assert all(mixed.get((t, "wind_speed", "farm_wind"), 0) > 100 for t in calm), mixed
    assert all(mixed.get((t, "power", "stopped_in_wind"), 0) > 100 for t in calm), mixed


def test_the_potential_powers_neighbours_and_farm_level_are_the_turbines_own_farms():
    """WT01's anemometer is never trusted and it never runs: its potential comes from its neighbours' wind
    (level 2) where they measure, else from the running turbines' share of rated power (level 3); both from
    its own, calm farm, not from the windy one beside it."""
    pair = fleet(DAY, [CALM, WINDY])
    wind = pair.samples["wind_speed"].unstack("turbine")
    power = pair.samples["power"].unstack("turbine")
    trusted = pd.DataFrame(True, index=wind.index, columns=wind.columns).assign(WT01=False)
    running = power.gt(0).assign(WT01=False)
    curves = {
        name: BinnedCurve.fit(model, pd.Series(dtype=float), pd.Series(dtype=float), 1.0)
        for name, model in pair.models.items()
    }
    rated = pd.Series({name: model.rated_power for name, model in pair.models.items()})
    potential, source = potential_power(wind, power, trusted, running, curves, rated, pair.farms)
    calm = pair.of("WF01")
    alone, alone_source = potential_power(wind[calm], power[calm], trusted[calm], running[calm], curves, rated[calm])
    pd.testing.assert_series_equal(potential["WT01"], alone["WT01"])
    pd.testing.assert_series_equal(source["WT01"], alone_source["WT01"])
    assert (source["WT01"] == 1).all()  # the neighbours' wind, every minute
    mixed, _ = potential_power(wind, power, trusted, running, curves, rated)
    assert mixed["WT01"].sum() > 1.5 * potential["WT01"].sum()  # the windy farm's wind would inflate it

    # Without any trusted wind, level 3: the share of rated power of the farm's running turbines.
    blind = pd.DataFrame(False, index=wind.index, columns=wind.columns)
    level3, source3 = potential_power(wind, power, blind, running, curves, rated, pair.farms)
    share = (power[calm] / rated[calm]).where(running[calm]).mean(axis=1)
    expected = (share * rated["WT01"]).where(share.notna(), power["WT01"].clip(lower=0.0)).clip(lower=0.0)
    np.testing.assert_allclose(level3["WT01"].to_numpy(), expected.to_numpy())
    assert (source3["WT01"][share.notna()] == 2).all()


def test_a_run_takes_the_only_farm_or_the_one_named_and_lists_the_farms_otherwise():
    one, two = [Site("WF01", turbines=4)], [Site("WF01", turbines=4), Site("WF02", turbines=4)]
    assert choose_farm(one, None).name == "WF01" and choose_farm(two, "WF02").name == "WF02"
    with pytest.raises(ConfigurationError) as several:
        choose_farm(two, None)
    assert "holds 2 farms (WF01, WF02) and the run names none" in str(several.value)
    assert "--farm WF01" in several.value.fix and several.value.setting == "farm"
    with pytest.raises(ConfigurationError) as unknown:
        choose_farm(two, "WF09")
    assert "has no farm 'WF09'" in str(unknown.value) and unknown.value.fix == "Pick from: WF01, WF02."
    with pytest.raises(ConfigurationError, match="The source has no farm"):
        choose_farm([], None)
    scope = RunScope.day("2024-10-02", farm="WF02")
    assert scope.label == "2024-10-02 of farm WF02"
    assert scope.covering(["WT05"]).label == "2024-10-02 of farm WF02 (WT05)"
    assert RunScope.day("2024-10-02").label == "2024-10-02" and RunScope.day("2024-10-02", farm=7).farm == "7"
    with pytest.raises(ConfigurationError, match="is no name"):
        RunScope.day("2024-10-02", farm="  ")


def kpi_rows() -> pd.DataFrame:
    """Two farms' days as the target keeps them: WF01 two turbines, WF02 one, over two days."""
    rows = []
    for day, farm, turbine, energy in [
        ("2024-10-01", "WF01", "WT01", 1000.0),
        ("2024-10-01", "WF01", "WT02", 2000.0),
        ("2024-10-01", "WF02", "WT03", 4000.0),
        ("2024-10-02", "WF01", "WT01", 500.0),
        ("2024-10-02", "WF02", "WT03", 3000.0),
    ]:
        rows.append(
            {
                "day": dt.date.fromisoformat(day),
                "farm": farm,
                "turbine": turbine,
                "rated_power_kw": 2000.0,
                "expected_minutes": 1440,
                "present_minutes": 1440,
                "inferred_minutes": 0,
                **{f"minutes_{c}": 0 for c in ("partial_performance", "ready_standby", "technical_standby")},
                "minutes_full_performance": 1440,
                "energy_kwh": energy,
                "potential_energy_kwh": energy + 100.0,
                "lost_kwh_performance": 100.0,
            }
        )
    frame = pd.DataFrame(rows)
    from etl_lib.metrics.kpis import ADDITIVE

    for column in ADDITIVE:
        if column not in frame and column != "capacity_kwh":
            frame[column] = 0.0
    return frame


def test_kpis_per_farm_and_the_fleets_totals_where_several_farms_are_shown():
    rows = kpi_rows()
    turbines = period_kpis(rows, "day")
    assert list(turbines.columns[:3]) == ["period", "farm", "turbine"]
    assert list(zip(turbines["farm"], turbines["turbine"])) == [
        ("WF01", "WT01"),
        ("WF01", "WT02"),
        ("WF02", "WT03"),
        ("WF01", "WT01"),
        ("WF02", "WT03"),
    ]
    totals = period_kpis(rows, "month", total=True).set_index("farm")
    assert list(totals.index) == ["WF01", "WF02", FLEET] and set(totals["turbine"]) == {FARM}
    assert totals.loc["WF01", "energy_kwh"] == 3500.0 and totals.loc["WF02", "energy_kwh"] == 7000.0
    assert totals.loc[FLEET, "energy_kwh"] == 10500.0 and totals.loc[FLEET, "days"] == 2
    assert totals.loc[FLEET, "capacity_factor"] == pytest.approx(10500.0 / (5 * 2000.0 * 24))  # from the sums
    daily = period_kpis(rows, "day", total=True)
    assert list(zip(daily["period"], daily["farm"])) == [
        ("2024-10-01", "WF01"),
        ("2024-10-01", "WF02"),
        ("2024-10-01", FLEET),
        ("2024-10-02", "WF01"),
        ("2024-10-02", "WF02"),
        ("2024-10-02", FLEET),
    ]
    blocks = as_text(period_kpis(rows, "month", total=True)).split("\n\n")  # as `etl kpis` prints it
    assert len(blocks) > 1 and all(block.split()[:4] == ["period", "farm", "turbine", "days"] for block in blocks)
    assert [line.split()[1] for line in blocks[-1].splitlines()[1:]] == ["WF01", "WF02", FLEET]
    one = period_kpis(rows[rows["farm"] == "WF02"], "month", total=True)
    assert list(one["farm"]) == ["WF02"]  # one farm shown: no fleet row
    alone = period_kpis(rows.drop(columns="farm"), "month", total=True)  # rows that name no farm (a file)
    assert "farm" not in alone and list(alone["turbine"]) == [FARM]


def test_a_dagster_backfill_of_a_fleet_runs_each_farms_days_grouped_never_two_farms_in_a_run():
    """The runs Dagster's backfill daemon makes of two farms' ten days under daily_statistics' BackfillPolicy
    (5 days per run): each run one farm's consecutive days, every farm-day in exactly one run."""
    from dagster import AssetKey, DagsterInstance, PartitionKeyRange
    from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
    from dagster._core.definitions.automation_tick_evaluation_context import (
        build_run_requests_with_backfill_policies,  # what the daemon calls for an asset backfill
    )
    from dagster._core.definitions.events import AssetKeyPartitionKey

    from etl_lib.orchestration.assets import ASSET_NAME, build_daily_statistics, partition_day, partition_farm
    from etl_lib.orchestration.coverage import SourcePartitions, default_partitions

    partitions = SourcePartitions(default_partitions(), "two farms", ("WF01", "WF02"))
    asset = build_daily_statistics(partitions.definition, partitions.note, days_per_run=5)
    keys = partitions.definition.get_partition_keys()
    assert len(keys) == 20
    with DagsterInstance.ephemeral() as instance:
        requests = build_run_requests_with_backfill_policies(
            [AssetKeyPartitionKey(AssetKey(ASSET_NAME), key) for key in keys], AssetGraph.from_assets([asset]), instance
        )
    runs = []
    for request in requests:
        start, end = (request.tags[f"dagster/asset_partition_range_{edge}"] for edge in ("start", "end"))
        runs.append(partitions.definition.get_partition_keys_in_range(PartitionKeyRange(start, end)))
    assert len(runs) == 4 and sorted(key for run in runs for key in run) == sorted(keys)
    for run in runs:
        assert len({partition_farm(key) for key in run}) == 1 and len(run) == 5
        days = sorted(partition_day(key) for key in run)
        assert days == [days[0] + dt.timedelta(days=n) for n in range(5)]
