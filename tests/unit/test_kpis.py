"""What the farm did (IEC 61400-26-1 categories, potential power, lost production, availability), on golden
events and on generated farm days whose true potential the simulator knows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from etl_lib.core.categories import PRIORITY, Category
from etl_lib.core.scope import RunScope
from etl_lib.core.turbines import air_density, density_factor
from etl_lib.metrics import availability
from etl_lib.metrics import kpis as metrics_kpis
from etl_lib.metrics.kpis import COLUMNS, LOSSES, TEXT_WIDTH, as_text, period_kpis, sum_rule_error, with_ratios
from etl_lib.pipeline import kpis
from etl_lib.pipeline.quality import check_day, expected_timestamps
from etl_lib.reports import kpis as kpi_report
from etl_lib.reports import present
from etl_lib.simulation import status_log
from etl_lib.simulation.faults import FARM, Fault
from harness.farm_data import FARM_MODELS, at, minutes, simulated

START = dt.date(2024, 10, 1)  # the default period: days are generated from it (a day alone is always the 1st)
DAY = dt.date(2024, 10, 4)  # 09:00-14:00 blows 7-15 m/s, no storm all day
NEXT_DAY = dt.date(2024, 10, 8)  # no storm either
WINDY_DAY = dt.date(2025, 2, 1)
C = Category


def farm_with(*faults, days: int = 8):
    """The default farm's first ``days`` days (seed 42) with ``faults``."""
    return simulated(START, days, faults)


def day_of(farm, day: dt.date, *, log: bool = True) -> kpis.DayKpis:
    """The day's KPIs as the ETL computes them: the log's categories (or none), the checks, the KPIs."""
    scope = RunScope.day(day, list(FARM_MODELS))
    grid = expected_timestamps(scope)
    samples = farm.samples
    stamps = samples.index.get_level_values("timestamp")
    samples = samples[(stamps >= scope.start) & (stamps < scope.end)]
    logged = kpis.log_codes(grid, scope.turbines, farm.events if log else None)
    quality = check_day(samples, samples.isna() & False, scope, FARM_MODELS, explained=availability.explained(logged))
    return kpis.compute(quality, logged, FARM_MODELS, {}, log=log)


def true_kwh(farm, turbine: str, start: str, count: int) -> float:
    """The simulator's true potential energy (kWh) of ``turbine`` over ``count`` minutes from ``start``."""
    window = pd.date_range(pd.Timestamp(start), periods=count, freq="1min")
    return float(farm.potential[turbine].reindex(window).sum() / 60)


# --- the categories: the log, by priority ----------------------------------------------------------------


def event(turbine: str, start: str, end: str | None, category: Category) -> dict:
    return {
        "turbine": turbine,
        "start_time": pd.Timestamp(f"2024-10-04T{start}Z"),
        "end_time": pd.Timestamp(f"2024-10-04T{end}Z") if end else pd.NaT,
        "category": category.value,
    }


def test_overlapping_events_give_each_minute_the_category_of_highest_priority():
    events = pd.DataFrame(
        [
            event("WT01", "00:00", "23:00", C.FULL_PERFORMANCE),
            event("WT01", "08:00", "12:00", C.SCHEDULED_MAINTENANCE),
            event("WT01", "10:00", "11:00", C.FORCED_OUTAGE),  # above maintenance
            event("WT01", "11:30", "12:30", C.OUT_OF_ELECTRICAL_SPECIFICATION),  # below it, until 12:00
            event("WT01", "15:00:30", "15:01:10", C.TECHNICAL_STANDBY),  # seconds: the two minutes it touches
            event("WT01", "23:00", None, C.REQUESTED_SHUTDOWN),  # still open
            event("WT02", "06:00", "07:00", C.FORCE_MAJEURE),
            event("WT02", "06:30", "06:40", C.SUSPENDED),  # force majeure wins
        ]
    )
    grid = pd.date_range("2024-10-04", periods=1440, freq="1min", tz="UTC")
    codes = availability.from_events(grid, ["WT01", "WT02", "WT03"], events)
    counted = availability.minutes(codes)
    assert counted.loc["WT01"][counted.loc["WT01"] > 0].to_dict() == {
        "full_performance": 1440 - 60 - 180 - 30 - 2 - 60,
        "technical_standby": 2,
        "requested_shutdown": 60,
        "out_of_electrical_specification": 30,
        "scheduled_maintenance": 180,
        "forced_outage": 60,
    }
    assert counted.loc["WT02"][counted.loc["WT02"] > 0].to_dict() == {"force_majeure": 60}
    assert (codes["WT03"] == -1).all() and (codes["WT02"].loc[grid[:360]] == -1).all()  # no log: no category
    assert PRIORITY[0] == C.FORCE_MAJEURE and PRIORITY[-1] == C.INFORMATION_UNAVAILABLE


def test_without_a_log_each_minute_is_inferred_from_the_samples_as_documented():
    """A gap, a stop the log would not explain, a derating, idling below cut-in and a storm stop, with
    no log at all: information unavailable, a forced outage, partial performance, ready standby, out of
    environmental specification, and every minute marked inferred."""
    faults = [
        Fault("gap", at(WINDY_DAY, "18:00"), 20, turbine="WT01"),
        Fault("stopped", at(WINDY_DAY, "19:00"), 30, value=-4.0, turbine="WT02"),
        Fault("curtailment", at(WINDY_DAY, "18:30"), 120, value=800.0, turbine="WT03"),
    ]
    farm = simulated(WINDY_DAY, faults=faults)
    day = day_of(farm, WINDY_DAY, log=False)
    assert day.inferred.all().all()
    name = {code: category.value for code, category in enumerate(availability.CODES)}
    codes = day.codes.replace(name)
    assert (codes["WT01"].loc[minutes(WINDY_DAY, "18:00", 20)] == "information_unavailable").all()
    assert (codes["WT02"].loc[minutes(WINDY_DAY, "19:00", 30)] == "forced_outage").all()
    derated = codes["WT03"].loc[minutes(WINDY_DAY, "18:30", 120)]
    assert (derated == "partial_performance").mean() > 0.9
    state = farm.state.reindex(codes.index)
    idle = ((state == status_log.READY) & (codes != "information_unavailable")).to_numpy()
    assert (codes.to_numpy()[idle] == "ready_standby").mean() > 0.95
    storm = (state == status_log.CUT_OUT).to_numpy()
    assert storm.any() and (codes.to_numpy()[storm] == "out_of_environmental_specification").all()


# --- lost production against the simulator's true potential ---------------------------------------------


@pytest.mark.parametrize("log", [True, False], ids=["with the log", "without a log"])
def test_stops_of_known_length_lose_their_true_potential_within_two_percent(log):
    """Maintenance of one turbine, a forced outage of another and the grid operator stopping the farm, on a
    windy day: each loss within 2 % of the energy the simulator says the turbines could have produced."""
    faults = [
        Fault("maintenance", at(DAY, "09:00"), 300, turbine="WT02"),
        Fault("forced_outage", at(DAY, "15:10"), 95, value=status_log.CONVERTER_FAULT, turbine="WT04"),
        Fault("requested_shutdown", at(DAY, "12:00"), 40, turbine=FARM),
    ]
    farm = farm_with(*faults)
    table = day_of(farm, DAY, log=log).table
    maintenance = true_kwh(farm, "WT02", "2024-10-04T09:00Z", 300)
    outage = true_kwh(farm, "WT04", "2024-10-04T15:10Z", 95)
    assert maintenance > 1000 and outage > 200  # windy enough to measure
    shutdown = {turbine: true_kwh(farm, turbine, "2024-10-04T12:00Z", 40) for turbine in FARM_MODELS}
    if log:  # the simulator logs the farm's shutdown over WT02's maintenance (one state a minute)
        assert table.loc["WT02", "lost_kwh_scheduled_maintenance"] == pytest.approx(
            maintenance - shutdown["WT02"], rel=0.02
        )
        assert table.loc["WT04", "lost_kwh_forced_outage"] == pytest.approx(outage, rel=0.02)
        for turbine in FARM_MODELS:
            assert table.loc[turbine, "lost_kwh_curtailment"] == pytest.approx(shutdown[turbine], rel=0.02)
    else:  # no log: every stop in wind that nothing explains counts as a forced outage
        assert table.loc["WT02", "lost_kwh_forced_outage"] == pytest.approx(maintenance, rel=0.02)  # holds the 12:00
        assert table.loc["WT04", "lost_kwh_forced_outage"] == pytest.approx(outage + shutdown["WT04"], rel=0.02)
        assert table.loc["WT01", "lost_kwh_forced_outage"] == pytest.approx(shutdown["WT01"], rel=0.02)


def test_potential_equals_produced_plus_the_losses_exactly():
    farm = farm_with(Fault("maintenance", at(DAY, "09:00"), 300, turbine="WT02"))
    table = day_of(farm, DAY).table
    assert sum_rule_error(table).abs().max() < 1e-6
    assert table["potential_energy_kwh"].sum() == pytest.approx(
        table["energy_kwh"].sum() + table[LOSSES].to_numpy().sum(), abs=1e-6
    )


def test_the_day_sums_do_not_depend_on_how_the_frames_lie_in_memory():
    """The energies and losses add each turbine's minutes in time order, one after the other: the same figures
    to the last digit whether a frame's values are stored by minute or by turbine (pandas' own sum chose its
    order by the layout, and the KPI step hands the metrics frames of either)."""
    farm = farm_with(Fault("maintenance", at(DAY, "09:00"), 300, turbine="WT02"))
    day = day_of(farm, DAY)
    power = day.potential * 0.9  # any power with decimals: a sum's order shows in its last digit

    def laid_out(frame: pd.DataFrame, order: str) -> pd.DataFrame:
        return pd.DataFrame(np.asarray(frame.to_numpy(), order=order), index=frame.index, columns=frame.columns)

    tables = [
        metrics_kpis.day_kpis(
            laid_out(day.codes, order),
            laid_out(day.inferred, order),
            laid_out(day.codes.ge(0), order),
            laid_out(power, order),
            laid_out(day.potential, order),
            pd.Series(dict.fromkeys(day.codes.columns, 2000.0)),
        )
        for order in ("C", "F")
    ]
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    by_minute = np.ascontiguousarray(power.to_numpy())
    assert tables[0]["energy_kwh"].tolist() == [in_order(by_minute[:, j]) * (1 / 60) for j in range(by_minute.shape[1])]


def in_order(values) -> float:
    """The values added one after the other (Python's ``sum`` compensates its rounding since 3.12)."""
    total = 0.0
    for value in values:
        total += float(value)
    return total


def test_a_clean_day_has_both_availabilities_1_and_a_stop_lowers_them_by_its_time():
    clean = with_ratios(day_of(farm_with(), DAY).table)
    assert (clean["time_availability"] == 1).all() and (clean["time_availability_manufacturer"] == 1).all()
    assert (clean["production_availability"] == 1).all() and (clean["inferred_minutes"] == 0).all()
    stopped = with_ratios(day_of(farm_with(Fault("forced_outage", at(DAY, "09:00"), 144, turbine="WT02")), DAY).table)
    assert stopped.loc["WT02", "time_availability"] == pytest.approx(1 - 144 / 1440)
    assert stopped.loc["WT02", "time_availability_manufacturer"] == pytest.approx(1 - 144 / 1440)
    assert stopped.loc["WT02", "production_availability"] < 1


def test_maintenance_counts_against_the_user_not_the_manufacturer():
    day = with_ratios(day_of(farm_with(Fault("maintenance", at(DAY, "09:00"), 300, turbine="WT02")), DAY).table)
    assert day.loc["WT02", "time_availability"] == pytest.approx(1 - 300 / 1440)
    assert day.loc["WT02", "time_availability_manufacturer"] == 1.0  # scheduled maintenance is left out


# --- periods add the days up ---------------------------------------------------------------------------


def test_a_period_recomputes_its_ratios_from_the_sums_never_averages_the_days():
    farm = farm_with(Fault("forced_outage", at(DAY, "09:00"), 720, turbine="WT02"))
    rows = [day_of(farm, day).table.reset_index().assign(day=day) for day in (DAY, NEXT_DAY)]
    rows = pd.concat(rows, ignore_index=True)
    daily = period_kpis(rows, "day").set_index(["period", "turbine"])
    month = period_kpis(rows, "month").set_index("turbine")
    assert list(month.index) == ["WT01", "WT02", "WT03", "WT04"] and (month["days"] == 2).all()
    assert month.loc["WT02", "time_availability"] == pytest.approx(1 - 720 / 2880)
    assert daily.xs("WT02", level="turbine")["time_availability"].mean() == pytest.approx(1 - 720 / 2880)
    energy = daily.xs("WT02", level="turbine")["energy_kwh"]
    assert month.loc["WT02", "energy_kwh"] == pytest.approx(energy.sum())
    production = month.loc["WT02", "production_availability"]
    averaged = daily.xs("WT02", level="turbine")["production_availability"].mean()
    assert production != pytest.approx(averaged, abs=1e-3)  # a ratio of sums, not the days' mean
    farm_total = period_kpis(rows, "month", total=True).iloc[0]
    assert farm_total["turbine"] == "farm" and farm_total["energy_kwh"] == pytest.approx(month["energy_kwh"].sum())


def test_the_reports_show_days_and_months_of_the_farm_in_mwh_and_percent_linked_to_each_days_report():
    farm = farm_with(Fault("forced_outage", at(DAY, "09:00"), 720, turbine="WT02"))
    rows = pd.concat([day_of(farm, day).table.reset_index().assign(day=day) for day in (DAY, NEXT_DAY)])
    daily = kpi_report.period_table(rows, "day")
    farm_days = period_kpis(rows, "day", total=True).set_index("period")
    assert list(daily.index) == [DAY.isoformat(), NEXT_DAY.isoformat()] and daily.index.name == "date"
    assert daily["produced (MWh)"].tolist() == (farm_days["energy_kwh"] / 1000).round(3).tolist()
    lost = daily["lost (MWh)"] - (daily["potential (MWh)"] - daily["produced (MWh)"])
    assert lost.abs().max() < 2e-3  # lost = potential - produced, each to the kWh
    assert daily.loc[DAY.isoformat(), "availability, user's view"] == pytest.approx(1 - 720 / (4 * 1440))
    html = present.html(daily)
    assert f'<a href="{DAY}.html">{DAY}</a>' in html and "%" in html
    months = kpi_report.period_table(rows, "month", total=False)
    assert months.index.names == ["month", "turbine"] and (months["days"] == 2).all()
    assert months.loc[("2024-10", "WT02"), "availability, user's view"] == pytest.approx(1 - 720 / 2880)
    figure = kpi_report.trend_figure(rows)
    energy, shares = figure.axes
    assert len(energy.patches) == 4  # a produced and a lost bar per day
    assert [line.get_label() for line in shares.lines][:2] == [
        "availability, user's view",
        "availability, manufacturer's view",
    ]
    assert kpi_report.period_table(rows.iloc[:0], "day").empty


def test_the_terminal_table_wraps_its_figures_into_blocks_that_each_name_the_period_and_turbine():
    farm = farm_with(Fault("forced_outage", at(DAY, "09:00"), 720, turbine="WT02"))
    rows = pd.concat([day_of(farm, day).table.reset_index().assign(day=day) for day in (DAY, NEXT_DAY)])
    text = as_text(period_kpis(rows, "month"))
    blocks = text.split("\n\n")
    assert len(blocks) > 1 and max(map(len, text.splitlines())) <= TEXT_WIDTH
    for block in blocks:
        header, *lines = block.splitlines()
        assert header.split()[:3] == ["period", "turbine", "days"] and len(lines) == 4
        assert [line.split()[1] for line in lines] == ["WT01", "WT02", "WT03", "WT04"]
    shown = " ".join(block.splitlines()[0] for block in blocks).split()
    assert [c for c in shown if c not in ("period", "turbine", "days")] == COLUMNS[3:]


# --- the air's density ----------------------------------------------------------------------------------


def test_air_density_is_the_standard_one_at_15_degrees_at_sea_level_and_thins_with_height():
    assert air_density(15.0, 0.0) == pytest.approx(1.225, abs=1e-3)
    assert float(density_factor(15.0, 0.0)) == pytest.approx(1.0, abs=1e-3)
    assert air_density(15.0, 1000.0) < air_density(15.0, 0.0) < air_density(-5.0, 0.0)
    assert float(density_factor(np.nan, 0.0)) == 1.0
