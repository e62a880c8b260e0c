"""The target mirrors the farm: after a whole-farm run of a day, the target holds for that day exactly
the turbines the source has; a turbine gone from the source loses that day's rows (its other days
stay) and is marked retired; the query helpers and the explore notebook show the current farm unless
asked for the retired turbines too."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, text

from etl_lib.config.settings import PROJECT_ROOT
from etl_lib.core.contract import DEFAULT_PERIOD_START
from etl_lib.notebook.runner import execute
from etl_lib.pipeline.run import run_etl
from etl_lib.reports import explore
from etl_lib.storage.engines import target_engine
from etl_lib.storage.query import available_turbines, check_turbines, retired_turbines, signal_coverage
from harness.farm_data import day_signal_names
from harness.own_farm import day_counts, own_farm, seed

DAY, NEXT = DEFAULT_PERIOD_START, DEFAULT_PERIOD_START + dt.timedelta(days=1)
ALL = [f"WT{n:02d}" for n in range(1, 21)]
FOUR, GONE = ALL[:4], ALL[4:]
ROWS_PER_DAY = 144 * len(day_signal_names())  # a turbine's full day of signals, on clean data


@pytest.fixture(scope="module")
def shrunk(settings, tmp_path_factory):
    """Twenty turbines, both days run; then the source reseeded with four and the first day run again."""
    with own_farm(settings, runs_dir=tmp_path_factory.mktemp("runs")) as own:
        seed(own, turbines=20, days=2)
        run_etl(DAY, own)
        run_etl(NEXT, own)
        before = {day: day_counts(own, day) for day in (DAY, NEXT)}
        seed(own, turbines=4, days=2)
        result = run_etl(DAY, own)
        yield own, before, result


def test_turbines_gone_from_the_source_lose_the_days_rows_and_keep_their_other_days(shrunk):
    own, before, result = shrunk
    assert before[DAY] == before[NEXT] == dict.fromkeys(ALL, ROWS_PER_DAY)
    assert list(result.scope.turbines) == FOUR
    assert day_counts(own, DAY) == dict.fromkeys(FOUR, ROWS_PER_DAY) | dict.fromkeys(GONE, 0)
    assert day_counts(own, NEXT) == before[NEXT]  # not run again: every turbine's day stays


def test_turbines_gone_from_the_source_are_marked_retired_and_the_current_farm_shown(shrunk):
    own, _, _ = shrunk
    engine = target_engine(own)
    retired = retired_turbines(engine=engine)
    assert sorted(retired) == GONE and all(when is not None for when in retired.values())
    assert available_turbines(engine=engine) == FOUR
    assert available_turbines(engine=engine, retired=True) == ALL
    assert check_turbines("WT05", engine=engine) == ["WT05"]  # asked for by name, a retired turbine is shown
    current = explore.open_range(None, NEXT, NEXT + dt.timedelta(days=1), engine=engine)
    assert current.turbines == FOUR
    everyone = explore.open_range(None, NEXT, NEXT + dt.timedelta(days=1), engine=engine, retired=True)
    assert everyone.turbines == ALL
    coverage = signal_coverage(NEXT, NEXT + dt.timedelta(days=1), engine=engine, turbines=GONE)
    assert (coverage.xs("power_mean", level="signal")["rows"] == 144).all()


def test_the_explore_notebook_shows_the_current_farm_unless_asked_for_the_retired(shrunk, tmp_path):
    own, _, _ = shrunk
    parameters = {"start": NEXT.isoformat(), "end": (NEXT + dt.timedelta(days=1)).isoformat()}
    parameters["target_database_url"] = own.target_url
    shown = {}
    for retired in (False, True):
        out = tmp_path / f"explore-{retired}.ipynb"
        execute(PROJECT_ROOT / "notebooks" / "explore.ipynb", out, parameters | {"retired": retired})
        shown[retired] = out.read_text()
    assert "WT04 (E-82/2000)" in shown[False] and "WT05" not in shown[False]
    assert "WT05 (" in shown[True] and "WT20 (" in shown[True]


def test_a_turbine_back_in_the_source_is_current_again_and_a_partial_run_removes_no_other_turbine(shrunk):
    own, _, _ = shrunk
    seed(own, turbines=6, days=2)
    run_etl(NEXT, own, turbines=["WT01"])  # a run of some turbines: no other turbine's rows go
    assert day_counts(own, NEXT)["WT20"] == ROWS_PER_DAY
    assert available_turbines(engine=target_engine(own)) == ALL[:6]  # the farm, as /turbines says it
    with target_engine(own).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM turbine WHERE retired_at IS NOT NULL")).scalar_one() == 14


def test_a_run_against_an_empty_source_is_refused_as_no_data_and_not_recorded(settings):
    """A source without turbines (a fresh stack not seeded yet, as a Dagster worker meets it): the library's
    run said "IndexError: tuple index out of range"; it is the project's NoSourceDataError, nothing recorded."""
    from etl_lib.core.errors import NoSourceDataError
    from etl_lib.storage.run_record import read_runs

    with own_farm(settings) as own:
        with pytest.raises(NoSourceDataError, match="the source is empty"):
            run_etl(DEFAULT_PERIOD_START, own)
        engine = target_engine(own)
        assert not inspect(engine).has_table("etl_run") or read_runs(engine).empty
