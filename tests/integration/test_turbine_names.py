"""Any turbine name the source holds can be run, whatever its characters: a comma, spaces at its ends,
60 characters; a whole-farm run never lists the farm in its URL (a farm of 1,100 turbines with
60-character names made a URL too long to send); the API's exact form (``turbine=<name>``, one
name each) carries any name, its human comma-separated form takes a whole name as it stands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from etl_lib.core.contract import DEFAULT_PERIOD_START
from etl_lib.core.errors import ConfigurationError
from etl_lib.pipeline.run import run_etl
from etl_lib.storage.query import available_turbines
from harness.farm_data import day_signal_names
from harness.fault_servers import stack_variables
from harness.own_farm import add_turbines, day_counts, own_farm, rename_turbines, seed

ETL = str(Path(sys.executable).with_name("etl"))
DAY = DEFAULT_PERIOD_START
ROWS_PER_DAY = 144 * len(day_signal_names())  # a turbine's full day of signals, on clean data
LONG = "Nordsee Ost wind farm, string B, position 12 (SWT-3.6-120) X"  # 60 characters, a comma too
NAMES = {"WT01": "WT01", "WT02": "WT,02", "WT03": " WT03", "WT04": LONG}
PARAMS = {"start": "2024-10-01T00:00:00Z", "end": "2024-10-01T01:00:00Z", "variables": "power"}


@pytest.fixture(scope="module")
def hostile(settings):
    with own_farm(settings) as own:
        seed(own)
        rename_turbines(own, {old: new for old, new in NAMES.items() if old != new})
        yield own


def test_a_whole_farm_run_takes_every_name_as_it_stands(hostile):
    assert len(LONG) == 60
    result = run_etl(DAY, hostile)
    assert sorted(result.scope.turbines) == sorted(NAMES.values())
    assert result.rows_read == 4 * 1440
    assert day_counts(hostile, DAY) == dict.fromkeys(NAMES.values(), ROWS_PER_DAY)
    assert available_turbines(hostile) == sorted(NAMES.values())


def test_a_run_of_some_turbines_by_their_exact_names(hostile):
    result = run_etl(DAY, hostile, turbines=["WT,02", " WT03", LONG])
    assert sorted(result.scope.turbines) == sorted(["WT,02", " WT03", LONG])
    assert result.rows_read == 3 * 1440
    with pytest.raises(ConfigurationError, match="no turbine") as raised:
        run_etl(DAY, hostile, turbines=["WT02"])
    assert "'WT,02'" in raised.value.fix and "' WT03'" in raised.value.fix  # the names that need it, quoted


def test_etl_run_takes_exact_names_with_turbine(hostile):
    env = {**os.environ, **stack_variables(hostile)}
    done = subprocess.run(
        [ETL, "run", DAY.isoformat(), "--no-report", "--turbine", "WT,02", "--turbine", " WT03", "--turbines", "WT01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)["turbines"]) == [" WT03", "WT,02", "WT01"]


def test_the_api_exact_form_carries_any_name_and_the_human_form_takes_a_whole_name(hostile):
    with httpx.Client(base_url=hostile.api_base_url, timeout=30) as api:
        exact = api.get("/data", params=[*PARAMS.items(), ("turbine", "WT,02"), ("turbine", " WT03")]).json()
        assert exact["turbines"] == [" WT03", "WT,02"]  # the farm's order
        assert {row["turbine"] for row in exact["data"]} == {" WT03", "WT,02"}
        whole = api.get("/data", params=PARAMS | {"turbines": "WT,02"}).json()
        assert whole["turbines"] == ["WT,02"] and len(whole["data"]) == 60
        listed = api.get("/data", params=PARAMS | {"turbines": "WT01, " + LONG.replace(",", "")}).json()
        assert "Unknown turbine(s)" in listed["detail"]
        assert "give" in listed["detail"] and "exactly as turbine=<name>" in listed["detail"]
        both = api.get("/data", params=[*PARAMS.items(), ("turbines", "WT01"), ("turbine", LONG)]).json()
        assert both["turbines"] == sorted(["WT01", LONG])
        assert api.get("/data", params=PARAMS).json()["turbines"] == sorted(NAMES.values())


def test_a_farm_of_1100_turbines_with_60_character_names_runs_without_listing_them(settings):
    """Four turbines with samples and 1,096 without, every name 60 characters: the whole-farm run's
    URL does not grow with the farm (it failed with InvalidURL: query too long)."""
    names = [f"{'Turbine at position':<54}{n:06d}" for n in range(1, 1101)]
    assert {len(name) for name in names} == {60}
    with own_farm(settings) as own:
        seed(own)
        rename_turbines(own, dict(zip(["WT01", "WT02", "WT03", "WT04"], names[:4])))
        add_turbines(own, names[4:], model="V90/2000")
        result = run_etl(DAY, own)
        assert list(result.scope.turbines) == names
        assert result.rows_read == 4 * 1440
        counts = day_counts(own, DAY)
        assert len(counts) == 1100 and [counts[name] for name in names[:4]] == [ROWS_PER_DAY] * 4
        assert result.summary()["quality"][names[0]]["power"] == 1.0
        assert result.summary()["quality"][names[-1]]["power"] == 0.0  # no samples: every one missing
        # Some of them, more than a URL may name (300 such names: about 24 KB): the farm asked for, its own kept.
        some = run_etl(DAY, own, turbines=names[2:302])
        assert list(some.scope.turbines) == names[2:302]
        assert some.rows_read == 2 * 1440
        assert set(some.samples.values.index.get_level_values("turbine").unique()) == set(names[2:4])
