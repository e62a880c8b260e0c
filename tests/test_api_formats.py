"""/data's formats (JSON, Arrow IPC) against the source rows, through the real API process."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import text

ARROW = "application/vnd.apache.arrow.stream"
ALL_VARIABLES = ["wind_speed", "power", "ambient_temperature"]
UTC = dt.timezone.utc


def source_rows(source_engine, start: dt.datetime, end: dt.datetime, variables: list[str]) -> list[tuple]:
    columns = ", ".join(["timestamp", *variables])
    with source_engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(f"SELECT {columns} FROM data WHERE timestamp >= :s AND timestamp < :e ORDER BY timestamp"),
                {"s": start, "e": end},
            )
        ]


def get_arrow(api, start: dt.datetime, end: dt.datetime, variables: list[str], **kwargs) -> pa.Table:
    response = api.get(
        "/data",
        params={"start": start.isoformat(), "end": end.isoformat(), "variables": ",".join(variables), **kwargs},
        headers={"Accept": ARROW},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ARROW
    return pa.ipc.open_stream(response.content).read_all()


def get_json(api, start: dt.datetime, end: dt.datetime, variables: list[str]) -> dict:
    response = api.get(
        "/data", params={"start": start.isoformat(), "end": end.isoformat(), "variables": ",".join(variables)}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return orjson.loads(response.content)


def bits(values) -> np.ndarray:
    """Float64 values as their raw bit patterns, so -0.0, NaN payloads and last digits all count."""
    return np.asarray(values, dtype=np.float64).view(np.uint64)


def test_json_and_arrow_equal_the_source_bit_for_bit_for_a_day(api, source_engine):
    start = dt.datetime(2024, 10, 4, tzinfo=UTC)
    end = start + dt.timedelta(days=1)
    expected = source_rows(source_engine, start, end, ALL_VARIABLES)
    assert len(expected) == 1440

    table = get_arrow(api, start, end, ALL_VARIABLES)
    assert table.schema.names == ["timestamp", *ALL_VARIABLES]
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert table.column("timestamp").to_pylist() == [row[0] for row in expected]
    for i, name in enumerate(ALL_VARIABLES, start=1):
        assert table.column(name).null_count == 0
        np.testing.assert_array_equal(bits(table.column(name).to_numpy()), bits([row[i] for row in expected]))

    payload = get_json(api, start, end, ALL_VARIABLES)
    assert [dt.datetime.fromisoformat(row["timestamp"]) for row in payload["data"]] == [row[0] for row in expected]
    for i, name in enumerate(ALL_VARIABLES, start=1):
        np.testing.assert_array_equal(
            bits([row[name] for row in payload["data"]]), bits([row[i] for row in expected])
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
        {"t": day + dt.timedelta(minutes=i, microseconds=250_001 * i), **{k: None if v is None else repr(v) for k, v in zip("wpa", row)}}
        for i, row in enumerate(values)
    ]
    with source_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO data (timestamp, wind_speed, power, ambient_temperature) "
                "VALUES (:t, CAST(:w AS float8), CAST(:p AS float8), CAST(:a AS float8))"
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


def test_special_values_survive_arrow_exactly_and_json_as_null(api, special_values_day):
    day, values = special_values_day
    end = day + dt.timedelta(days=1)

    table = get_arrow(api, day, end, ALL_VARIABLES)
    assert table.num_rows == len(values)
    for i, name in enumerate(ALL_VARIABLES):
        column = table.column(name)
        sent = [row[i] for row in values]
        assert [v is None for v in column.to_pylist()] == [v is None for v in sent], name
        got = column.fill_null(0.0).to_numpy()
        want = [0.0 if v is None else v for v in sent]
        np.testing.assert_array_equal(bits(got), bits(want), err_msg=name)

    payload = get_json(api, day, end, ALL_VARIABLES)
    assert payload["count"] == len(values)
    # Timestamps as orjson writes datetimes: a fraction of a second only where there is one.
    assert [row["timestamp"] for row in payload["data"]] == [
        "2023-03-01T00:00:00+00:00",
        "2023-03-01T00:01:00.250001+00:00",
        "2023-03-01T00:02:00.500002+00:00",
        "2023-03-01T00:03:00.750003+00:00",
    ]
    assert table.column("timestamp").to_pylist() == [day + dt.timedelta(minutes=i, microseconds=250_001 * i) for i in range(4)]
    for row, sent in zip(payload["data"], values):
        for name, value in zip(ALL_VARIABLES, sent):
            if value is None or not math.isfinite(value):
                assert row[name] is None  # JSON has no NaN or infinity
            else:
                assert bits([row[name]]) == bits([value])


@pytest.mark.parametrize("fmt", ["json", "arrow"])
def test_a_long_range_streams_every_row_in_order(api, source_engine, settings, fmt):
    # 9 days and a bit, not aligned to days: crosses the API's 7-day read chunk.
    start = dt.datetime(2024, 10, 1, 12, 34, 30, tzinfo=UTC)
    end = dt.datetime(2024, 10, 10, 1, 0, tzinfo=UTC)
    expected = [row[0] for row in source_rows(source_engine, start, end, [])]
    params = {"start": start.isoformat(), "end": end.isoformat(), "variables": "power", "format": fmt}
    with api.stream("GET", "/data", params=params) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        pieces = list(response.iter_raw())
    body = b"".join(pieces)
    if fmt == "arrow":
        timestamps = pa.ipc.open_stream(body).read_all().column("timestamp").to_pylist()
    else:
        payload = orjson.loads(body)
        assert payload["count"] == len(payload["data"])
        timestamps = [dt.datetime.fromisoformat(row["timestamp"]) for row in payload["data"]]
    assert len(expected) > 12_000
    assert timestamps == expected
    assert all(a < b for a, b in zip(timestamps, timestamps[1:]))


def test_json_keeps_its_documented_shape(api):
    response = api.get(
        "/data",
        params={"start": "2024-10-01T00:00:30Z", "end": "2024-10-01T00:03:00", "variables": ["power", "wind_speed"]},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"start", "end", "variables", "count", "data"}
    assert payload["start"] == "2024-10-01T00:00:30+00:00"
    assert payload["end"] == "2024-10-01T00:03:00+00:00"
    assert payload["variables"] == ["power", "wind_speed"]
    assert payload["count"] == 2
    assert [set(row) for row in payload["data"]] == [{"timestamp", "power", "wind_speed"}] * 2
    assert [row["timestamp"] for row in payload["data"]] == ["2024-10-01T00:01:00+00:00", "2024-10-01T00:02:00+00:00"]
    assert all(isinstance(row["power"], float) for row in payload["data"])


def test_an_empty_range_is_a_valid_empty_answer_in_both_formats(api):
    start = dt.datetime(2020, 1, 1, tzinfo=UTC)
    end = start + dt.timedelta(days=30)
    payload = get_json(api, start, end, ["power"])
    assert payload["count"] == 0 and payload["data"] == []
    table = get_arrow(api, start, end, ["power"])
    assert table.num_rows == 0 and table.schema.names == ["timestamp", "power"]


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
    params = {"start": "2024-10-02T00:00:00Z", "end": "2024-10-02T01:00:00Z", "variables": "power"}
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
    from etl_lib.dates import day_bounds
    from etl_lib.extract import fetch_day, get, make_client, parse_json, validate_samples

    day = dt.date(2024, 10, 6)
    start, end = day_bounds(day)
    with make_client(settings) as client:
        arrow_frame = fetch_day(client, day, ALL_VARIABLES)
        json_answer = get(client, "/data", {"start": start.isoformat(), "end": end.isoformat(), "variables": ALL_VARIABLES})
    assert json_answer.headers["content-type"] == "application/json"
    json_frame = validate_samples(parse_json(json_answer), ALL_VARIABLES, start, end)
    assert len(arrow_frame) == 1440
    pd.testing.assert_frame_equal(arrow_frame, json_frame, check_exact=True)


def arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


DAY = dt.datetime(2024, 10, 1, tzinfo=UTC)
GOOD = pa.table(
    {
        "timestamp": pa.array([DAY, DAY + dt.timedelta(minutes=1)], type=pa.timestamp("us", tz="UTC")),
        "power": pa.array([1.0, None], type=pa.float64()),
    }
)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (arrow_bytes(GOOD)[:-20], "not a complete Arrow IPC stream"),
        (b"<html>oops</html>", "not a complete Arrow IPC stream"),
        (arrow_bytes(GOOD.rename_columns(["timestamp", "wind_speed"])), "its columns are ['timestamp', 'wind_speed']"),
        (arrow_bytes(GOOD.set_column(0, "timestamp", pa.array(["a", "b"]))), "'timestamp' is string, not a UTC"),
        (
            arrow_bytes(GOOD.set_column(0, "timestamp", GOOD.column(0).cast(pa.timestamp("us")))),
            "not a UTC timestamp",
        ),
        (arrow_bytes(GOOD.set_column(1, "power", pa.array(["1", "2"]))), "'power' is string, not a number"),
        (
            arrow_bytes(GOOD.set_column(0, "timestamp", pa.array([DAY, DAY], type=pa.timestamp("us", tz="UTC")))),
            "timestamp 2024-10-01T00:00:00+00:00 appears twice",
        ),
        (
            arrow_bytes(
                GOOD.set_column(
                    0, "timestamp", pa.array([DAY, DAY + dt.timedelta(days=1)], type=pa.timestamp("us", tz="UTC"))
                )
            ),
            "outside the requested day",
        ),
        (
            arrow_bytes(GOOD.set_column(0, "timestamp", pa.array([DAY, None], type=pa.timestamp("us", tz="UTC")))),
            "a timestamp is missing",
        ),
    ],
)
def test_an_unusable_arrow_answer_is_refused_by_name(content, message):
    from etl_lib.errors import BadSourceDataError
    from etl_lib.extract import validate_arrow

    with pytest.raises(BadSourceDataError) as caught:
        validate_arrow(content, ["power"], DAY, DAY + dt.timedelta(days=1))
    assert message in str(caught.value)
    assert "[2024-10-01T00:00:00+00:00, 2024-10-02T00:00:00+00:00) is unusable" in str(caught.value)
    assert "Nothing was written" in str(caught.value)


def test_a_good_arrow_answer_becomes_the_float_frame_the_transform_expects():
    from etl_lib.extract import validate_arrow

    frame = validate_arrow(arrow_bytes(GOOD), ["power"], DAY, DAY + dt.timedelta(days=1))
    assert list(frame.columns) == ["power"]
    assert str(frame.index.dtype) == "datetime64[us, UTC]" and frame.index.name == "timestamp"
    assert frame["power"].iloc[0] == 1.0 and math.isnan(frame["power"].iloc[1])
