"""Turbine models: the catalogue is windpowerlib's published data, curves interpolate, bad tables are
refused with the file, the line and the fix."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from etl_lib.core.errors import ConfigurationError
from etl_lib.core.turbines import ModelTableError, TurbineModel, catalogue, read_model, resolve_model


def _windpowerlib_oedb() -> Path:
    windpowerlib = pytest.importorskip("windpowerlib")
    return Path(windpowerlib.__file__).parent / "oedb"


def test_the_catalogue_is_the_oedb_data_windpowerlib_ships():
    oedb = _windpowerlib_oedb()
    info = {row["turbine_type"]: row for row in csv.DictReader((oedb / "turbine_data.csv").read_text().splitlines())}
    rows = list(csv.reader((oedb / "power_curves.csv").read_text().splitlines()))
    curves = {row[0]: [(float(v), float(p) / 1000) for v, p in zip(rows[0][1:], row[1:]) if p] for row in rows[1:]}
    assert set(catalogue()) == {"V90/2000", "E-82/2000", "MM92/2050", "V80/2000", "N90/2500"}
    for name, model in catalogue().items():
        assert list(zip(model.wind_speeds, model.powers)) == curves[name], name
        assert model.rated_power == float(info[name]["nominal_power"]) / 1000
        assert model.rotor_diameter == float(info[name]["rotor_diameter"])
        assert model.manufacturer == info[name]["manufacturer"]
        assert "windpowerlib" in model.source and "OpenEnergy Database" in model.source


def test_power_interpolates_the_table_and_stops_outside_cut_in_and_cut_out():
    model = TurbineModel(
        "T", rated_power=2000, cut_in=3.0, cut_out=25.0, wind_speeds=(3, 4, 12, 16), powers=(0, 100, 2000, 2000)
    )
    speeds = [0.0, 2.99, 3.5, 8.0, 12.0, 20.0, 24.99, 25.0, np.nan]
    assert model.power(speeds).tolist() == [0.0, 0.0, 50.0, 1050.0, 2000.0, 2000.0, 2000.0, 0.0, 0.0]


def test_a_users_table_with_its_metadata(tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_text(
        "# name: Acme A-100\n# hub_height: 99\n# cut_out: 22\nWind_Speed,Power,Ct\n2,0,0.8\n4,90,0.8\n11,2300,0.5\n"
    )
    model = read_model(path)
    assert (model.name, model.hub_height, model.cut_in, model.cut_out, model.rated_power) == (
        "Acme A-100",
        99.0,
        4.0,
        22.0,
        2300.0,
    )
    assert resolve_model(str(path)) == model
    assert resolve_model("V90/2000") is catalogue()["V90/2000"]


@pytest.mark.parametrize(
    ("text", "line", "problem", "fix"),
    [
        ("speed,kw\n3,0\n", 1, "the column(s) wind_speed, power are missing", "header line `wind_speed,power`"),
        (
            "wind_speed,power\n3,0\n5,200\n5,300\n",
            4,
            "wind speed 5 m/s is not above the previous row's 5 m/s",
            "Sort the rows",
        ),
        ("wind_speed,power\n3,0\n5,-20\n", 3, "power -20 kW is negative", "0 where it delivers none"),
        ("wind_speed,power\n3,0\n5,lots\n", 3, "power 'lots' is not a number", "plain numbers"),
        ("# rotor: 90\nwind_speed,power\n3,0\n5,1\n", 1, "'# rotor: 90' is not a known", "hub_height"),
        ("wind_speed,power\n3,0\n", None, "at least two points", "manufacturer's curve"),
    ],
)
def test_a_bad_table_is_refused_with_file_line_and_fix(tmp_path, text, line, problem, fix):
    path = tmp_path / "curve.csv"
    path.write_text(text)
    with pytest.raises(ModelTableError) as raised:
        read_model(path)
    assert raised.value.row == line and raised.value.path == path
    assert problem in raised.value.problem and str(path) in raised.value.problem
    assert fix in raised.value.fix


def test_an_unknown_model_names_the_catalogue():
    with pytest.raises(ConfigurationError) as raised:
        resolve_model("V999/1")
    assert "V90/2000" in raised.value.fix and "CSV" in raised.value.fix
