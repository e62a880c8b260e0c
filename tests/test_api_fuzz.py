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

from api.main import create_app

schema = schemathesis.openapi.from_dict(create_app().openapi())


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


UTC = dt.timezone.utc
# Random strings rarely make a valid range, so valid ones get their own property: any interval
# around the seeded days, any non-empty set of variables, either format.
valid_queries = st.fixed_dictionaries(
    {
        "start": st.datetimes(dt.datetime(2024, 9, 28), dt.datetime(2024, 10, 12), timezones=st.just(UTC)),
        "minutes": st.integers(1, 3 * 1440),
        "variables": st.lists(st.sampled_from(["wind_speed", "power", "ambient_temperature"]), min_size=1, unique=True),
        "format": st.sampled_from([None, "json", "arrow"]),
    }
)


@given(query=valid_queries)
@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_valid_range_answers_200_in_order_inside_the_interval(query, settings):
    start = query["start"]
    end = start + dt.timedelta(minutes=query["minutes"])
    params = {"start": start.isoformat(), "end": end.isoformat(), "variables": ",".join(query["variables"])}
    if query["format"]:
        params["format"] = query["format"]
    case = schema["/data"]["GET"].Case(query=params)
    response = case.call_and_validate(base_url=settings.api_base_url, excluded_checks=EXCLUDED)

    assert response.status_code == 200
    if query["format"] == "arrow":
        table = pa.ipc.open_stream(response.content).read_all()
        assert table.schema.names == ["timestamp", *query["variables"]]
        stamps = table.column("timestamp").to_pylist()
    else:
        body = orjson.loads(response.content)
        assert body["variables"] == query["variables"] and body["count"] == len(body["data"])
        stamps = [dt.datetime.fromisoformat(row["timestamp"]) for row in body["data"]]
    assert stamps == sorted(set(stamps))
    assert all(start <= stamp < end for stamp in stamps)
