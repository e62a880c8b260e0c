"""The ETL's reading of /data's formats (JSON, Arrow IPC), on answers built in memory: a whole answer
becomes the frame the checks expect, a broken or incomplete one is refused by name. (The formats
through the real API process: tests/integration/test_api_formats.py.)"""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest

from etl_lib.core.scope import RunScope

ALL_VARIABLES = ["wind_speed", "power", "ambient_temperature"]
TURBINES = ["WT01", "WT02", "WT03", "WT04"]
UTC = dt.UTC


def arrow_bytes(table: pa.Table, count: int | None = -1, end_of_stream: bool = True) -> bytes:
    """``table`` as the API streams it: its batches, an empty batch stating ``count`` rows (default:
    the table's; None: no such batch), and the end-of-stream marker (unless ``end_of_stream`` is False)."""
    sink = pa.BufferOutputStream()
    writer = pa.ipc.new_stream(sink, table.schema)
    writer.write_table(table)
    if count is not None:
        count = table.num_rows if count == -1 else count
        empty = (
            table.to_batches()[-1].slice(0, 0)
            if table.num_rows
            else pa.RecordBatch.from_pylist([], schema=table.schema)
        )
        writer.write_batch(empty, custom_metadata={"count": str(count)})
    if end_of_stream:
        writer.close()
    return sink.getvalue().to_pybytes()


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


@pytest.mark.parametrize(
    ("content", "scope", "message"),
    [
        (arrow_bytes(GOOD)[:-20], ONE, "it is incomplete: the Arrow IPC stream breaks off"),
        (
            arrow_bytes(GOOD, end_of_stream=False),
            ONE,
            "it is incomplete: the Arrow IPC stream has no end-of-stream marker",
        ),
        (arrow_bytes(GOOD, count=None), ONE, "it is incomplete: the Arrow IPC stream states no row count"),
        (arrow_bytes(GOOD, count=3), ONE, "it is incomplete: the Arrow IPC stream holds 2 rows but states 3"),
        (b"<html>oops</html>", ONE, "not a complete Arrow IPC stream"),
        (
            arrow_bytes(GOOD.rename_columns(["timestamp", "wind_speed"])),
            ONE,
            "its columns are ['timestamp', 'wind_speed']",
        ),
        (arrow_bytes(GOOD), RunScope.day(DAY.date(), ["WT01", "WT02"]), "not ['timestamp', 'turbine', 'power']"),
        (arrow_bytes(GOOD.set_column(0, "timestamp", pa.array(["a", "b"]))), ONE, "'timestamp' is string, not a UTC"),
        (
            arrow_bytes(GOOD.set_column(0, "timestamp", GOOD.column(0).cast(pa.timestamp("us")))),
            ONE,
            "not a UTC timestamp",
        ),
        (arrow_bytes(GOOD.set_column(1, "power", pa.array(["1", "2"]))), ONE, "'power' is string, not a number"),
        (
            arrow_bytes(GOOD.set_column(0, "timestamp", pa.array([DAY, DAY], type=pa.timestamp("us", tz="UTC")))),
            ONE,
            "timestamp 2024-10-01T00:00:00+00:00 appears twice for turbine WT01",
        ),
        (
            arrow_bytes(
                GOOD.set_column(
                    0, "timestamp", pa.array([DAY, DAY + dt.timedelta(days=1)], type=pa.timestamp("us", tz="UTC"))
                )
            ),
            ONE,
            "outside the requested day",
        ),
        (
            arrow_bytes(GOOD.set_column(0, "timestamp", pa.array([DAY, None], type=pa.timestamp("us", tz="UTC")))),
            ONE,
            "a timestamp is missing",
        ),
        (arrow_bytes(FARM), RunScope.day(DAY.date(), ["WT01", "WT03"]), "turbine(s) 'WT02' that were not asked for"),
    ],
)
def test_an_unusable_arrow_answer_is_refused_by_name(content, scope, message):
    from etl_lib.core.errors import BadSourceDataError
    from etl_lib.pipeline.extract import validate_arrow

    with pytest.raises(BadSourceDataError) as caught:
        validate_arrow(content, ["power"], scope)
    assert message in str(caught.value)
    assert "[2024-10-01T00:00:00+00:00, 2024-10-02T00:00:00+00:00) is unusable" in str(caught.value)
    assert "Nothing was written" in str(caught.value)


def test_a_good_arrow_answer_becomes_the_frame_the_checks_expect():
    from etl_lib.pipeline.extract import validate_arrow

    one = validate_arrow(arrow_bytes(GOOD), ["power"], ONE)
    assert list(one.values.columns) == ["power"] and one.values.index.names == ["turbine", "timestamp"]
    assert str(one.values.index.levels[1].dtype) == "datetime64[us, UTC]"
    assert one.values.loc[("WT01", DAY), "power"] == 1.0 and math.isnan(one.values["power"].iloc[1])
    assert not one.non_finite["power"].any()  # a null is missing, not a non-finite reading

    farm = validate_arrow(arrow_bytes(FARM), ["power"], RunScope.day(DAY.date(), ["WT01", "WT02"]))
    assert farm.non_finite["power"].tolist() == [False, True]  # NaN is a value: flagged, then left out
    assert math.isnan(farm.values.loc[("WT02", DAY), "power"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"start": "2024-10-01T00:00:00Z", "data": [{"timestamp": "2024-10-01T00:00:00Z", "pow',
            "the JSON document breaks off after 85 bytes",
        ),
        (b'{"data": []}', "it states no row count ('count' after 'data')"),
        (b'{"data": [], "count": 2}', "it holds 0 rows but states 2"),
    ],
)
def test_an_incomplete_json_answer_is_refused_as_incomplete(body, message):
    import httpx

    from etl_lib.core.errors import IncompleteAnswerError
    from etl_lib.pipeline.extract import read_samples

    response = httpx.Response(
        200, content=body, headers={"content-type": "application/json"}, request=httpx.Request("GET", "http://api/data")
    )
    with pytest.raises(IncompleteAnswerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_samples(response, ["power"], ONE)
