"""The live feed's link schedule (``simulation.links``): outages and corrections, a pure function of the seed and
of absolute time, so a feed that stops and resumes keeps them."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from etl_lib.core.errors import ConfigurationError
from etl_lib.simulation.links import (
    CALIBRATION_ERROR,
    CORRECTED_VARIABLES,
    LinkSchedule,
    deliveries,
    minute_index,
    minute_time,
)

DAY = minute_index(dt.datetime(2024, 10, 3, tzinfo=dt.UTC))
WEEK = 7 * 1440


def test_minutes_count_from_the_unix_epoch_both_ways():
    instant = dt.datetime(2024, 10, 3, 12, 34, tzinfo=dt.UTC)
    assert minute_time(minute_index(instant)) == instant
    assert minute_index(dt.datetime(1970, 1, 1, 0, 1, tzinfo=dt.UTC)) == 1


def test_one_outage_per_slot_of_the_given_length_inside_its_slot_never_overlapping_on_a_turbine():
    schedule = LinkSchedule(4, late_every=30, late_minutes=8)
    outages = schedule.outages(DAY, DAY + WEEK)
    assert len(outages) == WEEK // 30  # one per slot of the week (the day starts a slot)
    for outage in outages:
        slot = outage.start // 30
        assert outage.end - outage.start == 8 and 0 <= outage.turbine < 4
        assert slot * 30 <= outage.start and outage.end <= (slot + 1) * 30 - 1  # back before the next slot
    assert {o.turbine for o in outages} == {0, 1, 2, 3}
    starts = [o.start for o in outages]
    assert starts == sorted(starts) and all(a.end < b.start for a, b in itertools.pairwise(outages))


def test_the_schedule_depends_on_the_seed_and_on_time_only_not_on_the_window_asked_for():
    schedule = LinkSchedule(4, late_every=25, late_minutes=8, correct_every=20, correct_minutes=6, correct_after=4)
    whole = schedule.outages(DAY, DAY + 600)
    assert sorted(set(schedule.outages(DAY, DAY + 300) + schedule.outages(DAY + 300, DAY + 600)), key=str) == sorted(
        whole, key=str
    )
    corrections = schedule.corrections(DAY, DAY + 600)
    halves = schedule.corrections(DAY, DAY + 300) + schedule.corrections(DAY + 300, DAY + 600)
    assert set(halves) == set(corrections)
    assert LinkSchedule(4, seed=42).outages(DAY, DAY + WEEK) == LinkSchedule(4, seed=42).outages(DAY, DAY + WEEK)
    assert LinkSchedule(4, seed=7).outages(DAY, DAY + WEEK) != LinkSchedule(4, seed=42).outages(DAY, DAY + WEEK)


def test_a_correction_sends_one_variable_off_by_a_calibration_error_and_resends_it_after_the_delay():
    schedule = LinkSchedule(10, correct_every=20, correct_minutes=6, correct_after=4)
    corrections = schedule.corrections(DAY, DAY + WEEK)
    assert len(corrections) >= WEEK // 20
    for c in corrections:
        assert c.end - c.start == 6 and c.resent == c.end + 4 and c.variable in CORRECTED_VARIABLES
        assert CALIBRATION_ERROR[0] - 1e-3 <= abs(c.factor - 1) <= CALIBRATION_ERROR[1] + 1e-3
        assert c.start // 20 * 20 <= c.start and c.end <= (c.start // 20 + 1) * 20
    assert {c.variable for c in corrections} == set(CORRECTED_VARIABLES)
    assert {c.factor > 1 for c in corrections} == {True, False}


def test_a_held_turbine_sends_nothing_then_its_batch_with_the_first_minute_after_the_outage():
    schedule = LinkSchedule(4, late_every=30, late_minutes=8)
    outage = next(o for o in schedule.outages(DAY, DAY + 600) if o.start > DAY)
    turbines = [0, 1, 2, 3]
    others = [t for t in turbines if t != outage.turbine]
    for minute in range(outage.start, outage.end):
        sent = deliveries(schedule, minute, turbines, {})
        assert [d.turbine for d in sent] == others and all(d.first == minute for d in sent)
    back = {d.turbine: d for d in deliveries(schedule, outage.end, turbines, {})}
    assert back[outage.turbine].first == outage.start and back[outage.turbine].late_rows == 8
    assert all(back[t].late_rows == 0 for t in others)
    # Resumed in the middle of the outage: the batch starts where the turbine's rows in the source end.
    resumed = deliveries(schedule, outage.end, turbines, {outage.turbine: outage.start + 3})
    assert [d.first for d in resumed if d.turbine == outage.turbine] == [outage.start + 3]
    # A feed that began after the outage began (a later --start) sends the batch from its own first minute.
    later = deliveries(schedule, outage.end, turbines, {outage.turbine: outage.end})
    assert [d.first for d in later if d.turbine == outage.turbine] == [outage.end]


def test_turbines_not_fed_are_not_sent_and_zero_minutes_means_no_outages_or_corrections():
    schedule = LinkSchedule(4, late_every=30, late_minutes=8)
    assert {d.turbine for d in deliveries(schedule, DAY + 7, [2], {})} <= {2}
    quiet = LinkSchedule(4, late_every=0, correct_every=0)
    assert quiet.outages(DAY, DAY + WEEK) == [] and quiet.corrections(DAY, DAY + WEEK) == []
    assert [d.turbine for d in deliveries(quiet, DAY, [0, 1, 2, 3], {})] == [0, 1, 2, 3]
    assert quiet.lookback == 0


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"late_every": 10, "late_minutes": 9}, "--late-minutes from 1 to 8"),
        ({"late_minutes": 2000, "late_every": 3000}, "at most a day"),
        ({"correct_every": 10, "correct_minutes": 11}, "--correct-minutes from 1 to --correct-every"),
        ({"correct_after": 1439}, "at most 1440 minutes"),
        ({"correct_after": -1}, "cannot be negative"),
    ],
)
def test_a_schedule_that_does_not_fit_is_refused_naming_the_option(options, named):
    with pytest.raises(ConfigurationError, match=named):
        LinkSchedule(4, **options)


def test_a_source_without_turbines_has_no_schedule():
    with pytest.raises(ConfigurationError, match="etl seed"):
        LinkSchedule(0)
