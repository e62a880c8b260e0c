"""Response formats of /data: choosing one (``format`` parameter or ``Accept``) and streaming it.

Both encoders consume the same Arrow record batches (``api.db.sample_batches``) and
yield bytes as they go, so a year costs the memory of one batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import numpy as np
import orjson
import pyarrow as pa

from etl_lib.source_schema import ARROW_MEDIA_TYPE

from .params import bad_request

JSON_MEDIA_TYPE = "application/json"
MEDIA_TYPES = {"json": JSON_MEDIA_TYPE, "arrow": ARROW_MEDIA_TYPE}
FORMATS_BY_MEDIA_TYPE = {media_type: name for name, media_type in MEDIA_TYPES.items()}


def choose_format(requested: str | None, accept: str | None) -> str:
    """``format`` wins; else the supported media type the ``Accept`` header ranks highest; else JSON."""
    if requested is not None:
        name = requested.strip().lower()
        if name not in MEDIA_TYPES:
            raise bad_request(
                f"Parameter 'format' = {requested[:64]!r} is not a supported format. "
                f"Use one of: {', '.join(MEDIA_TYPES)} (or send 'Accept: {ARROW_MEDIA_TYPE}')."
            )
        return name
    best, best_quality = "json", 0.0
    for item in (accept or "").split(","):
        media_type, *options = (part.strip() for part in item.split(";"))
        quality = 1.0
        for option in options:
            key, _, value = option.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        name = FORMATS_BY_MEDIA_TYPE.get(media_type.lower())
        if name and quality > best_quality:
            best, best_quality = name, quality
    return best


# Arrow to Python by way of NumPy views of the buffers: pyarrow's own ``to_numpy`` and
# ``to_pylist`` import pandas, which would add 55 MB to the API process.


def _values(array: pa.Array, dtype: str) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * itemsize)


def _floats(array: pa.Array) -> list[float | None]:
    values = _values(array, "<f8").tolist()
    if array.null_count:
        bits = np.unpackbits(np.frombuffer(array.buffers()[0], dtype=np.uint8), bitorder="little")
        for i in np.flatnonzero(bits[array.offset : array.offset + len(array)] == 0).tolist():
            values[i] = None
    return values


def _iso_utc(timestamps: pa.Array) -> list[str]:
    """ISO-8601 text as orjson writes a UTC datetime: a fraction of a second only when not zero."""
    micros = _values(timestamps, "<i8")
    instants = micros.astype("datetime64[us]")
    text = np.datetime_as_string(instants, unit="s")
    fraction = micros % 1_000_000 != 0
    if fraction.any():
        text = np.where(fraction, np.datetime_as_string(instants, unit="us"), text)
    return [f"{value}+00:00" for value in text.tolist()]


def _rows(batch: pa.RecordBatch) -> list[dict]:
    keys = batch.schema.names
    columns = [_iso_utc(batch.column(0)), *(_floats(column) for column in batch.columns[1:])]
    return [dict(zip(keys, values)) for values in zip(*columns)]


def json_stream(
    batches: Iterable[pa.RecordBatch], start: dt.datetime, end: dt.datetime, variables: list[str]
) -> Iterator[bytes]:
    """The documented JSON document, written row batch by row batch.

    ``count`` comes after ``data`` because it is known only at the end; as a JSON object
    the answer is the same as before streaming. NaN and infinities become null (orjson).
    """
    head = {"start": start, "end": end, "variables": variables}
    yield orjson.dumps(head)[:-1] + b',"data":['
    count = 0
    for batch in batches:
        if batch.num_rows:
            yield (b"," if count else b"") + orjson.dumps(_rows(batch))[1:-1]
            count += batch.num_rows
    yield b'],"count":%d}' % count


class _Chunks:
    """A write-only file for ``pyarrow.ipc``; ``take`` hands over what was written since the last call."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def arrow_stream(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, start: dt.datetime, end: dt.datetime
) -> Iterator[bytes]:
    """An Arrow IPC stream; the interval travels in the schema's metadata."""
    schema = schema.with_metadata({"start": start.isoformat(), "end": end.isoformat()})
    sink = _Chunks()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            yield sink.take()
    yield sink.take()
