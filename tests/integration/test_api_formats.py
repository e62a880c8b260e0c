"""/data's formats (JSON, Arrow IPC) against the source rows, through the real API process."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import text

from etl_lib.core.contract import ARROW_MEDIA_TYPE as ARROW
from etl_lib.core.scope import RunScope

ALL_VARIABLES = ["wind_speed", "power", "ambient_temperature"]
TURBINES = ["WT01", "WT02", "WT03", "WT04"]
UTC = dt.UTC


def source_rows(source_engine, start: dt.datetime, end: dt.datetime, variables: list[str]) -> list[tuple]:
    """``(timestamp, turbine, *variables)`` rows, by time then turbine, as the API orders them."""
    columns = ", ".join(["d.timestamp", "t.name", *(f"d.{v}" for v in variables)])
    with source_engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    f"SELECT {columns} FROM data d JOIN turbine t ON t.id = d.turbine_id "
                    "WHERE d.timestamp >= :s AND d.timestamp < :e ORDER BY d.timestamp, d.turbine_id"
                ),
                {"s": start, "e": end},
            )
        ]


def _params(start: dt.datetime, end: dt.datetime, variables: list[str], **kwargs) -> dict:
    return {"start": start.isoformat(), "end": end.isoformat(), "variables": ",".join(variables), **kwargs}


def get_arrow(api, start: dt.datetime, end: dt.datetime, variables: list[str], **kwargs) -> pa.Table:
    response = api.get("/data", params=_params(start, end, variables, **kwargs), headers={"Accept": ARROW})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ARROW
    return pa.ipc.open_stream(response.content).read_all()


def get_json(api, start: dt.datetime, end: dt.datetime, variables: list[str], **kwargs) -> dict:
    response = api.get("/data", params=_params(start, end, variables, **kwargs))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return orjson.loads(response.content)


def bits(values) -> np.ndarray:
    """Float64 values as their raw bit patterns, so -0.0, NaN payloads and last digits all count."""
    return np.asarray(values, dtype=np.float64).view(np.uint64)


def test_json_and_arrow_equal_the_source_bit_for_bit_for_a_farm_day(api, source_engine):
    start = dt.datetime(2024, 10, 4, tzinfo=UTC)
    end = start + dt.timedelta(days=1)
    expected = source_rows(source_engine, start, end, ALL_VARIABLES)
    assert len(expected) == 4 * 1440

    table = get_arrow(api, start, end, ALL_VARIABLES)
    assert table.schema.names == ["timestamp", "turbine", *ALL_VARIABLES]
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("turbine").type == pa.dictionary(pa.int32(), pa.string())
    assert table.column("timestamp").to_pylist() == [row[0] for row in expected]
    assert table.column("turbine").to_pylist() == [row[1] for row in expected]
    for i, name in enumerate(ALL_VARIABLES, start=2):
        assert table.column(name).null_count == 0
        np.testing.assert_array_equal(bits(table.column(name).to_numpy()), bits([row[i] for row in expected]))

    payload = get_json(api, start, end, ALL_VARIABLES)
    assert payload["turbines"] == TURBINES
    assert [dt.datetime.fromisoformat(row["timestamp"]) for row in payload["data"]] == [row[0] for row in expected]
    assert [row["turbine"] for row in payload["data"]] == [row[1] for row in expected]
    for i, name in enumerate(ALL_VARIABLES, start=2):
        np.testing.assert_array_equal(bits([row[name] for row in payload["data"]]), bits([row[i] for row in expected]))


@pytest.mark.parametrize("turbines", [["WT03"], ["WT04", "WT02"], "WT02,WT04"])
def test_a_selection_of_turbines_in_both_formats(api, source_engine, turbines):
    """One turbine: no turbine column (today's single-turbine answer); several: the column, in the farm's order."""
    start = dt.datetime(2024, 10, 5, 6, tzinfo=UTC)
    end = start + dt.timedelta(hours=2)
    names = turbines.split(",") if isinstance(turbines, str) else turbines
    expected = [row for row in source_rows(source_engine, start, end, ["power"]) if row[1] in names]
    many = len(names) > 1
    table = get_arrow(api, start, end, ["power"], turbines=turbines)
    payload = get_json(api, start, end, ["power"], turbines=turbines)
    assert table.schema.names == ["timestamp", *(["turbine"] if many else []), "power"]
    assert payload["turbines"] == sorted(names)
    assert [set(row) for row in payload["data"]] == [{"timestamp", *(["turbine"] if many else []), "power"}] * len(
        expected
    )
    assert table.column("power").to_pylist() == [row["power"] for row in payload["data"]] == [r[2] for r in expected]
    if many:
        assert (
            table.column("turbine").to_pylist()
            == [row["turbine"] for row in payload["data"]]
            == [r[1] for r in expected]
        )


@pytest.fixture
def special_values_day(source_engine):
    """A day outside the seeded period with NULL, NaN, infinities, -0.0 and extreme magnitudes."""
    day = dt.datetime(2023, 3, 1, tzinfo=UTC)
    values = [
        (None, 1.0, -0.0),
        (float("nan"), float("inf"), float("-inf")),
        (5e-324, 1.7976931348623157e308, 0.1 + 0.2),
        (None, None, None),
    ]
    # Sent as text: psycopg2 writes the float -0.0 as an unquoted "-0.0", which PostgreSQL reads as 0.
    rows = [
        {
            "t": day + dt.timedelta(minutes=i, microseconds=250_001 * i),
            **{k: None if v is None else repr(v) for k, v in zip("wpa", row)},
        }
        for i, row in enumerate(values)
    ]
    with source_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO data (turbine_id, timestamp, wind_speed, power, ambient_temperature) "
                "VALUES (1, :t, CAST(:w AS float8), CAST(:p AS float8), CAST(:a AS float8))"
            ),
            rows,
        )
    try:
        yield day, values
    finally:
        with source_engine.begin() as conn:
            conn.execute(
                text("DELETE FROM data WHERE timestamp >= :s AND timestamp < :e"),
                {"s": day, "e": day + dt.timedelta(days=1)},
            )


def test_special_values_survive_arrow_exactly_and_json_as_strings(api, special_values_day):
    day, values = special_values_day
    end = day + dt.timedelta(days=1)

    table = get_arrow(api, day, end, ALL_VARIABLES, turbines="WT01")
    assert table.num_rows == len(values)
    for i, name in enumerate(ALL_VARIABLES):
        column = table.column(name)
        sent = [row[i] for row in values]
        assert [v is None for v in column.to_pylist()] == [v is None for v in sent], name
        got = column.fill_null(0.0).to_numpy()
        want = [0.0 if v is None else v for v in sent]
        np.testing.assert_array_equal(bits(got), bits(want), err_msg=name)

    payload = get_json(api, day, end, ALL_VARIABLES, turbines="WT01")
    assert payload["count"] == len(values)
    # Timestamps as orjson writes datetimes: a fraction of a second only where there is one.
    assert [row["timestamp"] for row in payload["data"]] == [
        "2023-03-01T00:00:00+00:00",
        "2023-03-01T00:01:00.250001+00:00",
        "2023-03-01T00:02:00.500002+00:00",
        "2023-03-01T00:03:00.750003+00:00",
    ]
    assert table.column("timestamp").to_pylist() == [
        day + dt.timedelta(minutes=i, microseconds=250_001 * i) for i in range(4)
    ]
    for row, sent in zip(payload["data"], values):
        for name, value in zip(ALL_VARIABLES, sent):
            if value is None:
                assert row[name] is None
            elif not math.isfinite(value):  # JSON has no NaN or infinity: the strings the contract names
                assert row[name] == {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(value)]
            else:
                assert bits([row[name]]) == bits([value])


@pytest.mark.parametrize("fmt", ["json", "arrow"])
def test_a_long_range_streams_every_row_in_order(api, source_engine, settings, fmt):
    # 9 days and a bit of the farm, not aligned to days: crosses the API's read chunks many times.
    start = dt.datetime(2024, 10, 1, 12, 34, 30, tzinfo=UTC)
    end = dt.datetime(2024, 10, 10, 1, 0, tzinfo=UTC)
    expected = [row[:2] for row in source_rows(source_engine, start, end, [])]
    params = {"start": start.isoformat(), "end": end.isoformat(), "variables": "power", "format": fmt}
    with api.stream("GET", "/data", params=params) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        pieces = list(response.iter_raw())
    body = b"".join(pieces)
    if fmt == "arrow":
        table = pa.ipc.open_stream(body).read_all()
        keys = list(zip(table.column("timestamp").to_pylist(), table.column("turbine").to_pylist()))
    else:
        payload = orjson.loads(body)
        assert payload["count"] == len(payload["data"])
        keys = [(dt.datetime.fromisoformat(row["timestamp"]), row["turbine"]) for row in payload["data"]]
    assert len(expected) > 4 * 12_000
    assert keys == expected
    assert all(a < b for a, b in itertools.pairwise(keys))


def test_json_keeps_its_documented_shape(api):
    response = api.get(
        "/data",
        params={"start": "2024-10-01T00:00:30Z", "end": "2024-10-01T00:03:00", "variables": ["power", "wind_speed"]},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"start", "end", "turbines", "variables", "fingerprints", "newest", "count", "data"}
    # The fingerprints of the day the interval touches, in the samples' snapshot (as GET /fingerprints).
    assert [(f["day"], f["turbine"]) for f in payload["fingerprints"]] == [("2024-10-01", name) for name in TURBINES]
    assert payload["newest"] is not None
    assert payload["start"] == "2024-10-01T00:00:30+00:00"
    assert payload["end"] == "2024-10-01T00:03:00+00:00"
    assert payload["turbines"] == TURBINES
    assert payload["variables"] == ["power", "wind_speed"]
    assert payload["count"] == 8
    assert [set(row) for row in payload["data"]] == [{"timestamp", "turbine", "power", "wind_speed"}] * 8
    assert [row["timestamp"] for row in payload["data"]] == ["2024-10-01T00:01:00+00:00"] * 4 + [
        "2024-10-01T00:02:00+00:00"
    ] * 4
    assert [row["turbine"] for row in payload["data"]] == TURBINES * 2
    assert all(isinstance(row["power"], float) for row in payload["data"])


def test_an_empty_range_is_a_valid_empty_answer_in_both_formats(api):
    start = dt.datetime(2020, 1, 1, tzinfo=UTC)
    end = start + dt.timedelta(days=30)
    payload = get_json(api, start, end, ["power"])
    assert payload["count"] == 0 and payload["data"] == []
    table = get_arrow(api, start, end, ["power"])
    assert table.num_rows == 0 and table.schema.names == ["timestamp", "turbine", "power"]


@pytest.mark.parametrize(
    ("accept", "fmt", "expected"),
    [
        (None, None, "application/json"),
        ("*/*", None, "application/json"),
        (ARROW, None, ARROW),
        (f"application/json;q=0.5, {ARROW};q=0.9", None, ARROW),
        (f"{ARROW};q=0.2, application/json", None, "application/json"),
        (ARROW, "json", "application/json"),
        ("application/json", "arrow", ARROW),
        (None, "ARROW", ARROW),
    ],
)
def test_format_is_chosen_by_parameter_then_accept(api, accept, fmt, expected):
    params = {"start": "2024-10-02T00:00:00Z", "end": "2024-10-02T01:00:00Z", "variables": "power", "turbines": "WT01"}
    if fmt:
        params["format"] = fmt
    response = api.get("/data", params=params, headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.headers["content-type"] == expected
    if expected == ARROW:
        assert pa.ipc.open_stream(response.content).read_all().num_rows == 60
    else:
        assert response.json()["count"] == 60


def test_an_unknown_format_is_refused_with_the_choices(api):
    response = api.get(
        "/data",
        params={"start": "2024-10-02T00:00:00Z", "end": "2024-10-03T00:00:00Z", "variables": "power", "format": "xml"},
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "'format' = 'xml'" in detail and "json, arrow" in detail


def test_the_etl_reads_arrow_and_gets_the_same_frame_as_from_json(settings):
    from etl_lib.pipeline.extract import RetryPolicy, fetch_day, get, make_client, parse_json, validate_samples

    scope = RunScope.day("2024-10-06", TURBINES)
    retry = RetryPolicy.from_settings(settings)
    with make_client(settings) as client:
        arrow = fetch_day(client, scope, ALL_VARIABLES, retry=retry)
        json_answer = get(client, "/data", _params(scope.start, scope.end, ALL_VARIABLES), retry=retry)
    assert json_answer.headers["content-type"] == "application/json"
    from_json = validate_samples(parse_json(json_answer, scope.start, scope.end), ALL_VARIABLES, scope)
    assert len(arrow) == 4 * 1440
    pd.testing.assert_frame_equal(arrow.values, from_json.values, check_exact=True)
    pd.testing.assert_frame_equal(arrow.non_finite, from_json.non_finite, check_exact=True)


DAY = dt.datetime(2024, 10, 1, tzinfo=UTC)
ONE = RunScope.day(DAY.date(), ["WT01"])
GOOD = pa.table(
    {
        "timestamp": pa.array([DAY, DAY + dt.timedelta(minutes=1)], type=pa.timestamp("us", tz="UTC")),
        "power": pa.array([1.0, None], type=pa.float64()),
    }
)
FARM = pa.table(
    {
        "timestamp": pa.array([DAY, DAY], type=pa.timestamp("us", tz="UTC")),
        "turbine": pa.array(["WT01", "WT02"]).dictionary_encode(),
        "power": pa.array([1.0, float("nan")], type=pa.float64()),
    }
)


def test_the_api_process_serves_the_farm_without_loading_pandas(api, settings):
    """pandas would add about 55 MB to every API process (docs/performance.md): the running server answers
    both formats, for the farm and for one turbine, without it (its compiled modules never mapped)."""
    from etl_lib.ops.stack import running_api

    day = dt.datetime(2024, 10, 1, tzinfo=UTC)
    for fmt in ("arrow", "json"):
        for turbines in ({}, {"turbines": "WT02"}, {"turbines": "WT01,WT03"}):
            response = api.get(
                "/data", params=_params(day, day + dt.timedelta(hours=2), ALL_VARIABLES, format=fmt, **turbines)
            )
            assert response.status_code == 200 and len(response.content) > 1000
    assert api.get("/turbines").status_code == 200
    maps = Path(f"/proc/{running_api(settings).pid}/maps").read_text()
    assert "pyarrow" in maps  # the check sees the server's libraries
    assert "pandas/_libs" not in maps


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (dt.datetime(2024, 10, 1, tzinfo=UTC), dt.datetime(2024, 10, 11, tzinfo=UTC)),  # two chunks of the farm
        (dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2020, 1, 31, tzinfo=UTC)),
    ],  # no rows
)
def test_every_answer_ends_by_stating_its_row_count(api, start, end):
    """The trailer that tells a whole answer from one cut short: JSON's last member, Arrow's last batch."""
    params = _params(start, end, ["power"])
    arrow = api.get("/data", params=params | {"format": "arrow"}).content
    assert arrow.endswith(b"\xff\xff\xff\xff\x00\x00\x00\x00")  # the end-of-stream marker
    reader = pa.ipc.open_stream(arrow)
    batches = []
    while True:
        try:
            batches.append(reader.read_next_batch_with_custom_metadata())
        except StopIteration:
            break
    *data, (trailer, metadata) = batches
    rows = sum(batch.num_rows for batch, _ in data)
    assert trailer.num_rows == 0 and dict(metadata) == {b"count": str(rows).encode()}
    assert all(meta is None for _, meta in data)

    body = api.get("/data", params=params | {"format": "json"}).content
    assert body.endswith(b'],"count":%d}' % rows)
    assert len(orjson.loads(body)["data"]) == rows


def test_the_schema_documents_non_finite_values(api):
    schema = api.get("/openapi.json").json()
    values = schema["components"]["schemas"]["DataRow"]["additionalProperties"]["anyOf"]
    assert {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]} in values
    assert {"type": "number"} in values and {"type": "null"} in values


def test_the_schema_documents_the_row_count(api):
    schema = api.get("/openapi.json").json()
    assert "last member" in schema["components"]["schemas"]["DataResponse"]["properties"]["count"]["description"]
    assert "end-of-stream marker" in schema["paths"]["/data"]["get"]["responses"]["200"]["description"]


def test_the_schema_documents_the_busy_answer(api):
    responses = api.get("/openapi.json").json()["paths"]["/data"]["get"]["responses"]
    assert "Retry-After" in responses["503"]["headers"]
