"""Dagster's definitions and verdicts without a stack: the quality threshold, the verdicts as plain
functions, the last partition, the descriptions. (Materializations against the test stack:
tests/integration/test_orchestration.py.)"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from etl_lib.core.contract import ETL_VARIABLES, etl_signal_names
from etl_lib.orchestration.coverage import SourceCoverage, partitions_for
from etl_lib.orchestration.definitions import defs as load_defs
from etl_lib.orchestration.source import NUDGE, changed_versions, freshness_lags
from etl_lib.orchestration.verdicts import UNEXPLAINED, bucket_completeness, quality_verdict

SEEDED_DAY = dt.date(2024, 10, 2)
GAP_DAY = dt.date(2024, 11, 20)  # outside the seeded period; this module adds and removes it
GAP = ("02:00", "02:29")  # no samples at all: 3 buckets
LONE_POWER_BUCKET = "05:00"  # power has one sample there: its std is undefined
QUALITY = "daily_statistics_quality_above_threshold"


GAP_TURBINE, LONE_TURBINE = "WT02", "WT04"
TURBINES = ["WT01", "WT02", "WT03", "WT04"]


def test_the_quality_checks_default_threshold_is_the_one_the_reports_draw():
    from etl_lib.core.contract import MIN_GOOD_SHARE
    from etl_lib.orchestration.checks import QualityThreshold

    assert QualityThreshold().min_share == MIN_GOOD_SHARE


def test_quality_verdict_without_recorded_quality_is_a_failure_not_a_pass():
    verdict = quality_verdict({"status": "succeeded"}, 0.9, "runs/x.ipynb")
    assert not verdict.passed
    assert "holds no quality values" in verdict.description


def test_the_days_run_from_the_first_sample_to_today_the_day_not_over_included():
    """Open-ended (a live source's new day is a partition as it begins, without a reload)."""
    coverage = SourceCoverage(
        dt.datetime(2024, 10, 1, 6, tzinfo=dt.UTC), dt.datetime(2024, 10, 20, 9, 30, tzinfo=dt.UTC), 1
    )
    days = partitions_for(coverage)
    assert days.get_first_partition_key() == "2024-10-01"
    assert days.end is None and days.end_offset == 1
    before = dt.datetime.now(dt.UTC).date()
    last = days.get_last_partition_key()
    assert last in {before.isoformat(), dt.datetime.now(dt.UTC).date().isoformat()}  # today (midnight may pass)


def test_only_the_partitions_whose_version_changed_are_observed():
    """Dagster's automation takes every observation for an update (dagster #28063): an unchanged day is not
    observed again; a new or changed one is."""
    seen = {"2024-10-01|WF01": "a", "2024-10-02|WF01": "b"}
    now = {"2024-10-01|WF01": "a", "2024-10-02|WF01": "c", "2024-10-03|WF01": "d"}
    assert changed_versions(now, seen) == {"2024-10-02|WF01": "c", "2024-10-03|WF01": "d"}
    assert changed_versions(seen, seen) == {}
    # A day observed again with a mark (its run read an older state) is the same source version.
    assert changed_versions({"2024-10-01|WF01": "a"}, {"2024-10-01|WF01": f"a{NUDGE}1765000000"}) == {}


def test_the_freshness_lag_is_from_the_end_of_the_newest_complete_bucket_in_the_datas_time():
    utc = dt.UTC
    source = {
        "WF01": dt.datetime(2024, 10, 11, 12, 9, tzinfo=utc),
        "WF02": dt.datetime(2024, 10, 11, 12, 8, tzinfo=utc),
    }
    written = {"WF01": dt.datetime(2024, 10, 11, 11, 0, tzinfo=utc), "WF02": None}
    lags = freshness_lags(source, written)
    # WF01: 12:09 is the last minute of the 12:00 bucket, complete until 12:10; written until 11:10.
    assert lags["WF01"] == dt.timedelta(hours=1)
    assert lags["WF02"] == dt.timedelta.max  # nothing written of it
    assert freshness_lags(source, {"WF01": dt.datetime(2024, 10, 11, 12, 0, tzinfo=utc)})["WF01"] == dt.timedelta(0)


def test_descriptions_show_in_the_ui_as_written():
    """The UI renders descriptions as Markdown: an angle bracket outside a code span is taken for HTML."""
    defs = load_defs()
    repository = defs.get_repository_def()
    asset = defs.get_assets_def("daily_statistics")
    texts = [asset.descriptions_by_key[asset.key]]
    texts += [
        spec.description for checks in repository.asset_checks_defs_by_key.values() for spec in checks.check_specs
    ]
    texts += [job.description for job in repository.get_all_jobs() if not job.name.startswith("__")]
    texts += [schedule.description for schedule in repository.schedule_defs]
    assert any("`runs/<date>.ipynb`" in described for described in texts)
    for described in texts:
        outside_code = re.sub(r"`[^`]*`", "", described or "")
        assert "<" not in outside_code and ">" not in outside_code, described


# --- a day without source data, failures, the checks job without a day ---------------------------


def test_buckets_missing_although_the_source_has_samples_are_an_error():
    day = dt.date(2024, 10, 2)
    stamps = pd.date_range(pd.Timestamp(day, tz="UTC"), periods=1440, freq="1min")
    index = pd.MultiIndex.from_product([["WT01"], stamps], names=["turbine", "timestamp"])
    samples = pd.DataFrame(dict.fromkeys(ETL_VARIABLES, 1.0), index=index)
    written = pd.DataFrame(
        {"timestamp": pd.Series(dtype="datetime64[ns, UTC]"), "turbine": [], "signal": [], "value": []}
    )
    result = bucket_completeness(day, ["WT01"], written, samples)
    assert not result.passed
    assert set(result.missing) == {UNEXPLAINED}
    assert not result.explained_by_source


def test_a_day_not_over_is_judged_on_its_complete_buckets():
    """A live source's day, run up to 10:30 (its standing run's complete_until): 63 buckets per signal pass;
    one missing before 10:30 fails naming the partial day; buckets after it are not asked for."""
    day = dt.date(2024, 10, 11)
    until = dt.datetime(2024, 10, 11, 10, 30, tzinfo=dt.UTC)
    starts = pd.date_range(pd.Timestamp(day, tz="UTC"), until, freq="10min", inclusive="left")
    names = etl_signal_names()
    written = pd.DataFrame(
        [(start, "WT01", name, 1.0) for start in starts for name in names],
        columns=["timestamp", "turbine", "signal", "value"],
    )
    result = bucket_completeness(day, ["WT01"], written, until=until)
    assert result.passed and result.expected == len(starts) == 63
    assert "complete until 10:30 UTC" in result.describe()
    assert not bucket_completeness(day, ["WT01"], written).passed  # judged as a whole day: 144 expected
    short = bucket_completeness(day, ["WT01"], written[written["timestamp"] != starts[-1]], until=until)
    assert not short.passed and "buckets written of 63 (the day is not over" in short.describe()
