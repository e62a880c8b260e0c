"""Property-based fuzzing of the real API over HTTP from its OpenAPI schema (schemathesis).

Valid and invalid requests alike: never a 5xx, every status documented, every answer matching
its schema. The schema is built from the same app the server runs (``schemathesis.pytest.from_fixture``
does not work with pytest 9), and a test checks it equals what the server publishes.
"""

from __future__ import annotations

import datetime as dt

import orjson
import pyarrow as pa
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from api.docs import published_schema
from api.main import create_app

# The test stack's API runs without a token (conftest), so its published schema asks for none.
schema = schemathesis.openapi.from_dict(published_schema(create_app(), token_required=False))


def test_the_fuzzed_schema_is_the_one_the_server_publishes(api):
    assert api.get("/openapi.json").json() == schema.raw_schema


# "Schema-valid data is accepted" cannot hold: the schema cannot say that start < end, that the
# range is at most ETL_API_MAX_RANGE_DAYS, or which names a comma-separated list may hold; such
# requests get a 422 that says why. Every other default check runs.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]


@schema.parametrize()
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_every_generated_request_without_5xx_and_to_its_schema(case, settings):
    case.call_and_validate(base_url=settings.api_base_url, excluded_checks=EXCLUDED)


UTC = dt.UTC
FARM = ["WT01", "WT02", "WT03", "WT04"]  # the test stack's default farm
# Random strings rarely make a valid range, so valid ones get their own property: any interval
# around the seeded days, any non-empty set of variables, the whole farm or any turbines, either format.
valid_queries = st.fixed_dictionaries(
    {
        "start": st.datetimes(dt.datetime(2024, 9, 28), dt.datetime(2024, 10, 12), timezones=st.just(UTC)),
        "minutes": st.integers(1, 3 * 1440),
        "variables": st.lists(st.sampled_from(["wind_speed", "power", "ambient_temperature"]), min_size=1, unique=True),
        "turbines": st.one_of(st.none(), st.lists(st.sampled_from(FARM), min_size=1, unique=True)),
        "format": st.sampled_from([None, "json", "arrow"]),
    }
)


@given(query=valid_queries)
@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_valid_range_answers_200_in_order_inside_the_interval(query, settings):
    start = query["start"]
    end = start + dt.timedelta(minutes=query["minutes"])
    params = {"start": start.isoformat(), "end": end.isoformat(), "variables": ",".join(query["variables"])}
    if query["turbines"]:
        params["turbines"] = ",".join(query["turbines"])
    if query["format"]:
        params["format"] = query["format"]
    case = schema["/data"]["GET"].Case(query=params)
    response = case.call_and_validate(base_url=settings.api_base_url, excluded_checks=EXCLUDED)

    assert response.status_code == 200
    chosen = [name for name in FARM if name in (query["turbines"] or FARM)]  # answered in the farm's order
    named = len(chosen) > 1  # a turbine column whenever the answer can hold more than one
    if query["format"] == "arrow":
        table = pa.ipc.open_stream(response.content).read_all()
        assert table.schema.names == ["timestamp", *(["turbine"] if named else []), *query["variables"]]
        stamps = table.column("timestamp").to_pylist()
        turbines = table.column("turbine").to_pylist() if named else [chosen[0]] * len(stamps)
    else:
        body = orjson.loads(response.content)
        assert body["variables"] == query["variables"] and body["count"] == len(body["data"])
        assert body["turbines"] == chosen
        assert all(("turbine" in row) == named for row in body["data"])
        stamps = [dt.datetime.fromisoformat(row["timestamp"]) for row in body["data"]]
        turbines = [row.get("turbine", chosen[0]) for row in body["data"]]
    keys = [(stamp, chosen.index(turbine)) for stamp, turbine in zip(stamps, turbines)]
    assert keys == sorted(set(keys))  # time, then turbine; no row twice
    assert all(start <= stamp < end for stamp in stamps)
