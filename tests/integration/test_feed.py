"""`etl feed`: the live source, against a scratch database of the test server (the shared source stays as it is).

The expectations come from the simulator and the link schedule themselves (``generator``, ``faults``, ``links``),
not from the feed: the fed minutes are those a longer seed would have made, but for the rows an outage still
holds and the values still waiting for their correction.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from etl_lib.core.contract import SOURCE_VARIABLES
from etl_lib.simulation import generator, status_log
from etl_lib.simulation.faults import DEFAULT_FAULTS, inject
from etl_lib.simulation.feed import FeedError, FeedOptions, run_feed
from etl_lib.simulation.links import LinkSchedule, minute_index, minute_time
from etl_lib.simulation.seed import seed_source
from etl_lib.storage.source import source_version
from harness.stack import scratch_database

ETL = str(Path(sys.executable).parent / "etl")
START = dt.date(2024, 10, 1)
DAYS = 2
FED_FROM = dt.datetime(2024, 10, 3, tzinfo=dt.UTC)  # the first minute after the seeded days
# Frequent outages and corrections, so an hour has several of each.
SCHEDULE = {"late_every": 25, "late_minutes": 8, "correct_every": 20, "correct_minutes": 6, "correct_after": 4}


@pytest.fixture()
def source(settings):
    with scratch_database(settings.source_url, "scratch_feed") as url:
        engine = create_engine(url)
        try:
            seed_source(engine, START, DAYS)
            yield url, engine
        finally:
            engine.dispose()


def feed(engine, **options) -> object:
    options.setdefault("speed", None)
    options.setdefault("schedule", SCHEDULE)
    lines: list[str] = []
    result = run_feed(engine, FeedOptions(**options), stop=threading.Event(), echo=lines.append)
    result.lines = lines
    return result


def simulated(minutes: int) -> dict[str, pd.DataFrame]:
    """Per turbine, the simulator's minutes from the seed's start through ``minutes`` minutes after the seeded
    days, with the seed's faults: what a longer seed would hold (``present``: whether a row exists)."""
    days = DAYS + minutes // 1440 + 1
    return {
        turbine.name: inject(frame, DEFAULT_FAULTS, turbine=turbine.name, farm=turbine.site.name).set_index("timestamp")
        for turbine, frame in generator.generate(generator.build_farm(), START, days)
    }


def fed_rows(engine, since: dt.datetime = FED_FROM) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(
            text(
                "SELECT t.name AS turbine, d.timestamp, d.wind_speed, d.power, d.ambient_temperature FROM data d "
                "JOIN turbine t ON t.id = d.turbine_id WHERE d.timestamp >= :since ORDER BY 1, 2"
            ),
            conn,
            params={"since": since},
        )


def expected_rows(minutes: int, schedule: LinkSchedule, names: list[str]) -> pd.DataFrame:
    """The rows ``minutes`` minutes of feeding from ``FED_FROM`` leave: the simulator's, without those an outage
    still holds, with the wrong values of the corrections not yet re-sent."""
    first = minute_index(FED_FROM)
    end = first + minutes
    frames = simulated(minutes)
    held = [o for o in schedule.outages(first, end) if o.end >= end]  # their batch is not there yet
    pending = [c for c in schedule.corrections(first, end) if c.resent >= end]
    out = []
    for position, name in enumerate(names):
        frame = frames[name].loc[minute_time(first) : minute_time(end - 1)].copy()
        index = np.array([minute_index(t) for t in frame.index])
        keep = frame["present"].to_numpy().copy()
        for outage in held:
            if outage.turbine == position:
                keep &= ~((index >= outage.start) & (index < outage.end))
        for c in pending:
            if c.turbine == position:
                wrong = (index >= c.start) & (index < c.end)
                frame.loc[wrong, c.variable] = np.round(frame.loc[wrong, c.variable] * c.factor, 2)
        frame = frame[keep]
        out.append(frame.reset_index()[["timestamp", *SOURCE_VARIABLES]].assign(turbine=name))
    rows = pd.concat(out)[["turbine", "timestamp", *SOURCE_VARIABLES]]
    return rows.sort_values(["turbine", "timestamp"]).reset_index(drop=True)


NAMES = ["WT01", "WT02", "WT03", "WT04"]


def test_sixty_fed_minutes_are_the_simulators_with_late_batches_and_corrections(source):
    _, engine = source
    version = source_version(engine)
    result = feed(engine, minutes=60)
    schedule = LinkSchedule(4, **SCHEDULE)
    first = minute_index(FED_FROM)

    assert result.totals.minutes == 60 and result.start == FED_FROM
    assert result.next == FED_FROM + dt.timedelta(minutes=60)
    got = fed_rows(engine)
    expected = expected_rows(60, schedule, NAMES)
    held = sum(
        min(o.end, first + 60) - max(o.start, first) for o in schedule.outages(first, first + 60) if o.end >= first + 60
    )
    assert len(got) == 60 * 4 - held == result.totals.rows  # the seed's faults have no gap in this hour
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    # The schedule of this hour has batches and corrections that arrived within it, and the feed said so.
    batches = [o for o in schedule.outages(first, first + 60) if first < o.end < first + 60]
    assert result.totals.late_batches == len(batches) >= 2
    assert result.totals.late_rows == sum(o.end - max(o.start, first) for o in batches)  # seeded rows not re-sent
    assert result.totals.corrections >= 2 and result.totals.corrected_rows > 0
    assert any("late: WT" in line for line in result.lines) and any("corrected: WT" in line for line in result.lines)
    assert source_version(engine) == version  # appended and corrected, never replaced


def test_a_late_batch_and_a_correction_arrive_after_a_stop_and_the_resumed_feed_has_no_gap(source):
    _, engine = source
    version = source_version(engine)
    schedule = LinkSchedule(4, **SCHEDULE)
    first = minute_index(FED_FROM)
    # Stop in the middle of an outage, after a correction's wrong values and before they are re-sent.
    outage, correction, stop_at = next(
        (o, c, m)
        for o in schedule.outages(first, first + 600)
        for c in schedule.corrections(first, first + 600)
        for m in range(o.start + 1, o.end)
        if o.start > first and c.start > first and c.end <= m < c.resent and c.turbine != o.turbine
    )
    feed(engine, minutes=stop_at - first)
    before = fed_rows(engine)
    held = before[(before.turbine == NAMES[outage.turbine])]
    held = held[held.timestamp >= minute_time(outage.start)]
    assert held.empty  # the outage's rows are not there yet
    pd.testing.assert_frame_equal(before, expected_rows(stop_at - first, schedule, NAMES), check_dtype=False)
    wrong = before[(before.turbine == NAMES[correction.turbine]) & (before.timestamp >= minute_time(correction.start))]
    wrong = wrong[wrong.timestamp < minute_time(correction.end)]

    resumed = feed(engine, minutes=60)  # resumes where the source ends: the batch and the correction come
    assert resumed.start == minute_time(stop_at)
    after = fed_rows(engine)
    minutes = stop_at - first + 60
    pd.testing.assert_frame_equal(after, expected_rows(minutes, schedule, NAMES), check_dtype=False)
    assert not after.duplicated(["turbine", "timestamp"]).any()
    batch = after[(after.turbine == NAMES[outage.turbine]) & (after.timestamp >= minute_time(outage.start))]
    assert len(batch[batch.timestamp < minute_time(outage.end)]) == outage.end - outage.start
    now = after.set_index(["turbine", "timestamp"]).loc[wrong.set_index(["turbine", "timestamp"]).index]
    assert (now[correction.variable].to_numpy() != wrong[correction.variable].to_numpy()).all()  # corrected
    assert source_version(engine) == version


def test_the_status_log_goes_on_as_a_longer_seeds_with_the_last_event_open(source):
    _, engine = source
    quiet = {"late_every": 0, "correct_every": 0}
    feed(engine, minutes=250, schedule=quiet)  # stopped and resumed: the open events go on
    started = feed(engine, minutes=350, schedule=quiet).totals.events
    assert started >= 10  # WT01 and WT02 change state from 04:22 (ready, generating, ...)
    frames = simulated(600)
    end = FED_FROM + dt.timedelta(minutes=600)
    with engine.connect() as conn:
        log = pd.read_sql(
            text(
                "SELECT t.name AS turbine, e.start_time, e.end_time, e.code FROM turbine_event e "
                "JOIN turbine t ON t.id = e.turbine_id ORDER BY 1, 2"
            ),
            conn,
        )
    for name in NAMES:
        minutes = frames[name].loc[: end - dt.timedelta(minutes=1)]
        expected = status_log.events(minutes.index, minutes["state"].to_numpy())
        expected["end_time"] = expected["end_time"].astype(object)
        expected.loc[expected.index[-1], "end_time"] = None  # the event under way stays open
        ours = log[log.turbine == name].drop(columns="turbine").reset_index(drop=True)
        assert ours["end_time"].isna().sum() == 1  # one open event per turbine
        assert list(ours["start_time"]) == list(expected["start_time"])
        assert list(ours["code"]) == list(expected["code"])
        assert list(ours["end_time"].iloc[:-1]) == list(expected["end_time"].iloc[:-1])


def test_the_pace_follows_the_speed_on_the_simulated_clock(source):
    """--speed 600: minute k is written once the clock is 0.1 s × k past the start (a clock of the test's own, so
    nothing here depends on how fast the machine is)."""
    _, engine = source
    now = [0.0]
    waits: list[float] = []

    class Stop(threading.Event):
        def wait(self, timeout=None):
            waits.append(round(timeout, 6))
            now[0] += timeout  # the time passes while the feed waits
            return False

    result = run_feed(
        engine,
        FeedOptions(speed=600, minutes=5, schedule={"late_every": 0, "correct_every": 0}),
        stop=Stop(),
        echo=lambda line: None,
        clock=lambda: now[0],
    )
    assert result.totals.rows == 5 * 4
    assert waits[0] == pytest.approx(0.1) and all(w <= 0.1 + 1e-9 for w in waits) and len(waits) == 5
    assert now[0] == pytest.approx(0.5)  # five simulated minutes at 600× are half a second


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_a_real_feed_after_a_whole_minute_and_a_second_feed_resumes(source, stop_signal):
    url, engine = source
    version = source_version(engine)
    env = {**os.environ, "SOURCE_DATABASE_URL": url}
    args = ["--late-every", "0", "--correct-every", "0"]
    process = subprocess.Popen(
        [ETL, "feed", "--speed", "1200", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while len(fed_rows(engine)) < 40 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert process.poll() is None, process.communicate()
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "stopped:" in out and "Ctrl-C" in out
    rows = fed_rows(engine)
    per_minute = rows.groupby("timestamp").size()
    assert (per_minute == 4).all()  # no minute half-written
    assert len(per_minute) >= 10

    feed(engine, minutes=30, schedule={"late_every": 0, "correct_every": 0})
    rows = fed_rows(engine)
    stamps = pd.DatetimeIndex(sorted(rows.timestamp.unique()))
    assert stamps[0] == FED_FROM and (stamps[1:] - stamps[:-1] == pd.Timedelta(minutes=1)).all()  # no gap
    assert (rows.groupby("timestamp").size() == 4).all() and len(stamps) == len(per_minute) + 30  # no duplicate
    assert source_version(engine) == version


def test_bad_starts_are_refused_and_a_second_feed_is_not_let_in(source):
    _, engine = source
    with pytest.raises(Exception, match="before the end of the source"):
        feed(engine, minutes=1, start=dt.datetime(2024, 10, 2, 12, tzinfo=dt.UTC))
    with pytest.raises(Exception, match="no farm 'WF09'"):
        feed(engine, minutes=1, farm="WF09")
    with pytest.raises(Exception, match="not the simulator's with --seed 7") as other_seed:
        feed(engine, minutes=1, seed=7)
    assert "--seed (and --clean) that etl seed was given" in str(other_seed.value)
    with engine.connect() as holder:
        from etl_lib.simulation.feed import LOCK_KEY

        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        with pytest.raises(FeedError, match="Another etl feed"):
            feed(engine, minutes=1)
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
    assert fed_rows(engine).empty
    # A later start leaves a gap on purpose, and says so.
    later = feed(engine, minutes=2, start=dt.datetime(2024, 10, 3, 6, tzinfo=dt.UTC))
    assert any("stay without samples" in line for line in later.lines)
    assert len(fed_rows(engine)) == 2 * 4


def test_a_fleet_fed_farm_by_farm_is_the_simulators_and_a_farm_left_behind_is_refused(source):
    _, engine = source
    seed_source(engine, START, 1, farms=2, turbines=2)  # WF01: WT01, WT02; WF02: WT03, WT04
    quiet = {"late_every": 0, "correct_every": 0}
    feed(engine, minutes=5, farm="WF02", schedule=quiet)
    with pytest.raises(Exception, match=r"The samples of WT01, WT02 end at 2024-10-02 00:00 UTC") as refused:
        feed(engine, minutes=5, schedule=quiet)
    assert "etl feed --farm WF01 --until 2024-10-02T00:05Z" in str(refused.value)
    feed(engine, farm="WF01", until=dt.datetime(2024, 10, 2, 0, 5, tzinfo=dt.UTC), schedule=quiet)
    feed(engine, minutes=5, schedule=quiet)

    got = fed_rows(engine, dt.datetime(2024, 10, 2, tzinfo=dt.UTC))
    assert (got.groupby("timestamp").size() == 4).all() and got.timestamp.nunique() == 10
    for farm in generator.build_fleet(2, 2):
        for turbine, frame in generator.generate(farm, START, 2):
            true = frame.set_index("timestamp").loc["2024-10-02 00:00":"2024-10-02 00:09", list(SOURCE_VARIABLES)]
            ours = got[got.turbine == turbine.name].set_index("timestamp")[list(SOURCE_VARIABLES)]
            np.testing.assert_array_equal(ours.to_numpy(), true.to_numpy())  # no faults on day 2 at 00:00


def test_a_source_replaced_under_the_feed_stops_it_with_nothing_of_the_minute_written(source):
    _, engine = source
    seeded = []

    def reseed_once(line: str) -> None:  # after the first minute's line, `etl seed` replaces the source
        if line.startswith("2024-10-03 00:00") and not seeded:
            seeded.append(seed_source(engine, START, DAYS).version)

    options = FeedOptions(speed=None, minutes=5, schedule=SCHEDULE)
    with pytest.raises(FeedError, match=r"The source was replaced .* nothing of 2024-10-03 00:01 UTC was written"):
        run_feed(engine, options, stop=threading.Event(), echo=reseed_once)
    assert seeded and source_version(engine) == seeded[0]
    assert fed_rows(engine).empty  # the new source as the seed made it
