"""The pure logic of change tracking: up to where a day is complete, and why a day must run again."""

from __future__ import annotations

import datetime as dt

import pytest

from etl_lib.core.dates import parse_run_date
from etl_lib.core.errors import InvalidDateError
from etl_lib.core.fingerprints import Fingerprint, SourceFingerprints, complete_until, data_version, differences
from etl_lib.ops.sync import day_reasons

DAY = dt.date(2024, 10, 4)
START = dt.datetime(2024, 10, 4, tzinfo=dt.UTC)


def at(hours: int, minutes: int, day: int = 0) -> dt.datetime:
    return START + dt.timedelta(days=day, hours=hours, minutes=minutes)


def fp(rows: int, checksum: str = "00000000000000aa", last: str | None = "2024-10-04T23:59:00+00:00") -> dict:
    return {"rows": rows, "checksum": checksum, "last_timestamp": last}


@pytest.mark.parametrize(
    ("newest", "until"),
    [
        (None, START),  # nothing yet
        (at(0, 5), START),  # the first bucket is not complete
        (at(0, 9), at(0, 10)),  # its last minute is in: complete
        (at(10, 34), at(10, 30)),
        (at(10, 39), at(10, 40)),
        (at(23, 58), at(23, 50)),
        (at(23, 59), None),  # the day's last minute: over
        (at(3, 0, day=1), None),  # a later day's sample: over
        (at(12, 0, day=-1), START),  # only earlier days
    ],
)
def test_a_day_is_complete_up_to_the_end_of_its_last_bucket_whose_minutes_are_all_past(newest, until):
    assert complete_until(DAY, newest) == until


def test_differences_name_each_turbine_and_what_changed():
    recorded = {"WT01": fp(1440), "WT02": fp(1428), "WT03": fp(1440, "00000000000000bb"), "WT04": fp(1440)}
    source = {"WT01": fp(1440), "WT02": fp(1440), "WT03": fp(1440, "00000000000000cc"), "WT05": fp(7)}
    assert differences(source, recorded) == [
        "12 rows late for WT02",
        "values changed for WT03",
        "WT04 no longer in the source",
        "7 rows new for WT05",
    ]
    assert differences(recorded, recorded) == []
    # Rows after the newest one the run read: the day went on (a live feed), not late rows.
    went_on = {"WT01": fp(640, "00000000000000bb", "2024-10-04T10:39:00+00:00")}
    assert differences(went_on, {"WT01": fp(635, last="2024-10-04T10:34:00+00:00")}) == [
        "5 rows more for WT01, the newest at 10:39"
    ]
    assert differences(went_on, {"WT01": fp(630, last="2024-10-04T10:39:00+00:00")}) == ["10 rows late for WT01"]
    assert differences({"WT01": fp(1440)}, {"WT01": fp(1441)}) == ["1 rows gone for WT01"]
    assert differences({"WT01": fp(1)}, None) == ["never run"]
    assert differences({}, None) == []


def test_a_day_is_run_again_when_changed_new_or_now_more_complete_and_never_otherwise():
    last = "2024-10-04T10:34:00Z"
    rows = [
        {"turbine": "WT01", "day": "2024-10-04", "rows": 635, "checksum": "0123456789abcdef", "last_timestamp": last}
    ]
    source = SourceFingerprints.from_json(rows, "2024-10-04T10:34:00Z")
    assert day_reasons(DAY, source, None) == (["new day (complete until 10:30)"], None)
    same = (source.of_day(DAY), at(10, 30))
    assert day_reasons(DAY, source, same) == ([], None)
    assert day_reasons(DAY, source, (None, None)) == (
        ["its run recorded no fingerprints (a run from before them)"],
        None,
    )
    # The same rows, but the source has gone on (a later day's sample, the day's last minutes missing): now whole.
    later = SourceFingerprints(source.fingerprints, at(0, 1, day=1))
    assert day_reasons(DAY, later, same) == (["now complete"], None)
    early = SourceFingerprints(source.fingerprints, at(0, 4))
    assert day_reasons(DAY, early, None) == ([], "2024-10-04: no complete 10-minute bucket yet")


def test_fingerprints_from_the_api_are_checked():
    good = {"turbine": "WT01", "day": "2024-10-04", "rows": 3, "checksum": "0123456789abcdef", "last_timestamp": None}
    assert Fingerprint.from_json(good).rows == 3
    for bad in ({"rows": -1}, {"rows": True}, {"checksum": "12"}, {"checksum": "0123456789ABCDEG"}, {"day": "x"}):
        with pytest.raises((ValueError, KeyError, TypeError)):
            Fingerprint.from_json(good | bad)


def test_a_data_version_changes_exactly_when_the_fingerprints_do():
    one = {"WT01": fp(1440), "WT02": fp(1440)}
    assert data_version(one) == data_version(dict(reversed(one.items())))
    assert data_version(one) != data_version({"WT01": fp(1440), "WT02": fp(1440, "00000000000000ab")})


def test_today_is_a_run_date_and_tomorrow_is_not():
    today = dt.date(2026, 12, 6)
    assert parse_run_date("2026-12-06", today=today) == today
    with pytest.raises(InvalidDateError, match="not over yet"):
        parse_run_date("2026-12-07", today=today)
