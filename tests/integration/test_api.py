"""The API over real HTTP, against the embedded PostgreSQL of the test stack."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from etl_lib.simulation.faults import DEFAULT_FAULTS

DAY = {"start": "2024-10-02T00:00:00Z", "end": "2024-10-03T00:00:00Z"}


def test_data_returns_requested_variables_of_the_farm_by_time_then_turbine(api, source_engine):
    response = api.get("/data", params={**DAY, "variables": ["wind_speed", "power"]})
    assert response.status_code == 200
    body = response.json()
    assert body["variables"] == ["wind_speed", "power"]
    assert body["count"] == len(body["data"]) == 4 * 1440
    assert set(body["data"][0]) == {"timestamp", "turbine", "wind_speed", "power"}
    got = pd.DataFrame(body["data"])
    got["timestamp"] = pd.to_datetime(got["timestamp"], utc=True)
    assert got["timestamp"].is_monotonic_increasing

    with source_engine.connect() as conn:
        expected = pd.read_sql(
            text(
                "SELECT d.timestamp, t.name AS turbine, d.wind_speed, d.power FROM data d JOIN turbine t ON "
                "t.id = d.turbine_id WHERE d.timestamp >= :s AND d.timestamp < :e ORDER BY 1, 2"
            ),
            conn,
            params={"s": DAY["start"], "e": DAY["end"]},
        )
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)


def test_turbines_lists_the_farm_with_its_models_and_curves(api, source_engine):
    from etl_lib.core.turbines import catalogue

    turbines = api.get("/turbines").json()["turbines"]
    assert [t["name"] for t in turbines] == ["WT01", "WT02", "WT03", "WT04"]
    assert [t["model"]["name"] for t in turbines] == ["V90/2000", "V90/2000", "E-82/2000", "E-82/2000"]
    v90 = turbines[0]["model"]
    assert v90["curve"]["power"] == list(catalogue()["V90/2000"].powers)
    assert (v90["rated_power"], v90["cut_in"], v90["cut_out"], v90["rotor_diameter"]) == (2000, 3.5, 25, 90)
    assert all(-90 <= t["latitude"] <= 90 and -180 <= t["longitude"] <= 180 for t in turbines)
    assert len({(t["latitude"], t["longitude"]) for t in turbines}) == 4


def test_unknown_turbines_get_a_4xx_that_lists_the_farm(api):
    response = api.get("/data", params={**DAY, "variables": "power", "turbines": "WT01,WT99"})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Unknown turbine(s) 'WT99'. Valid turbines: WT01, WT02, WT03, WT04 (GET /turbines lists them)."
    )


def test_comma_separated_variables_equal_repeated_ones(api):
    repeated = api.get("/data", params={**DAY, "variables": ["power", "wind_speed"]}).json()
    comma = api.get("/data", params={**DAY, "variables": "power,wind_speed"}).json()
    assert repeated == comma
    assert comma["variables"] == ["power", "wind_speed"]


def test_interval_is_half_open_and_naive_instants_are_utc(api):
    body = api.get(
        "/data",
        params={"start": "2024-10-02T00:00:00", "end": "2024-10-02T00:10:00", "variables": "power", "turbines": "WT02"},
    ).json()
    stamps = [row["timestamp"] for row in body["data"]]
    assert len(stamps) == 10
    assert pd.Timestamp(stamps[0]) == pd.Timestamp("2024-10-02T00:00Z")
    assert pd.Timestamp(stamps[-1]) == pd.Timestamp("2024-10-02T00:09Z")

    offset = api.get(
        "/data",
        params={
            "start": "2024-10-02T02:00:00+02:00",
            "end": "2024-10-02T02:10:00+02:00",
            "variables": "power",
            "turbines": "WT02",
        },
    ).json()
    assert offset["data"] == body["data"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({**DAY, "variables": "rotor_speed"}, "Unknown variable"),
        ({**DAY, "variables": ""}, "No variable selected"),
        ({**DAY}, "'variables': Field required"),
        ({"start": DAY["end"], "end": DAY["start"], "variables": "power"}, "must be before 'end'"),
        ({"start": DAY["start"], "end": DAY["start"], "variables": "power"}, "must be before 'end'"),
        ({"start": "yesterday", "end": DAY["end"], "variables": "power"}, "not an ISO-8601 instant"),
        ({**DAY, "variables": "power", "limit": "5"}, "Unknown query parameter"),
    ],
)
def test_bad_input_gets_a_4xx_that_names_the_problem(api, params, fragment):
    response = api.get("/data", params=params)
    assert 400 <= response.status_code < 500
    detail = response.json()["detail"]
    assert fragment in detail
    if "variable" in fragment.lower():
        assert "wind_speed, power, ambient_temperature" in detail


def test_variables_coverage_and_health(api):
    names = [v["name"] for v in api.get("/variables").json()["variables"]]
    assert names == ["wind_speed", "power", "ambient_temperature"]

    coverage = api.get("/coverage").json()
    # Ten days of minutes of four turbines, less the rows of the seeded gap (docs/quality.md).
    assert coverage["rows"] == 4 * 14400 - sum(f.minutes for f in DEFAULT_FAULTS if f.kind == "gap")
    assert pd.Timestamp(coverage["first"]) == pd.Timestamp("2024-10-01T00:00Z")
    assert pd.Timestamp(coverage["last"]) == pd.Timestamp("2024-10-10T23:59Z")

    assert api.get("/health").json() == {"status": "ok", "database": "ok"}


def test_openapi_documents_every_data_parameter(api):
    spec = api.get("/openapi.json").json()
    parameters = {p["name"]: p for p in spec["paths"]["/data"]["get"]["parameters"]}
    assert {"start", "end", "variables"} <= set(parameters)
    for name in ("start", "end", "variables"):
        assert parameters[name].get("description"), f"{name} is undocumented"
    assert "UTC" in parameters["start"]["description"]
    assert api.get("/docs").status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_no_route_accepts_writes(api, method):
    response = api.request(method.upper(), "/data", params={**DAY, "variables": "power"})
    assert response.status_code == 405
