"""Response formats of /data: choosing one (``format`` parameter or ``Accept``) and streaming it.

Both encoders consume the same Arrow record batches (``api.samples.sample_batches``) and
yield bytes as they go, so a year costs the memory of one batch. Both end by stating how many rows
they sent (``count``), so a reader can tell a whole answer from one that was cut short:

- JSON: ``count`` is the document's last member, after ``data``;
- Arrow: the stream's last record batch is empty and carries ``count`` in its custom metadata,
  followed by the end-of-stream marker.

Non-finite samples keep their meaning in both: Arrow carries NaN and ±Infinity as float64, JSON
(which has no such numbers) as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import numpy as np
import orjson
import pyarrow as pa

from etl_lib.core.contract import (
    ARROW_MEDIA_TYPE,
    COUNT_METADATA_KEY,
    FINGERPRINTS_METADATA_KEY,
    JSON_MEDIA_TYPE,
    NON_FINITE_JSON,
)

from .params import bad_request

JSON_ROWS = 4096
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


_NON_FINITE_TEXT = {repr(value): text for text, value in NON_FINITE_JSON.items()}  # "nan" -> "NaN", …


def _floats(array: pa.Array) -> list[float | str | None]:
    """Floats as Python values: null as None, NaN and ±Infinity as the strings the contract names
    (orjson would write them as null, indistinguishable from a missing value)."""
    numbers = _values(array, "<f8")
    values = numbers.tolist()
    non_finite = ~np.isfinite(numbers)
    if non_finite.any():
        for i in np.flatnonzero(non_finite).tolist():
            values[i] = _NON_FINITE_TEXT[repr(values[i])]
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


def _names(column: pa.DictionaryArray, names: np.ndarray) -> list[str]:
    return names[_values(column.indices, "<i4")].tolist()


def _rows(batch: pa.RecordBatch, turbines: np.ndarray) -> list[dict]:
    keys = batch.schema.names
    columns = [
        _iso_utc(column) if name == "timestamp" else _names(column, turbines) if name == "turbine" else _floats(column)
        for name, column in zip(keys, batch.columns)
    ]
    return [dict(zip(keys, values)) for values in zip(*columns)]


def json_stream(
    batches: Iterable[pa.RecordBatch],
    start: dt.datetime,
    end: dt.datetime,
    variables: list[str],
    turbines: list[str],
    fingerprints: dict | None = None,
) -> Iterator[bytes]:
    """The documented JSON document, written ``JSON_ROWS`` rows at a time (a row is a Python dict
    on the way, about 0.5 kB).

    ``count`` comes after ``data`` because it is known only at the end: it is the answer's trailer,
    and as a JSON object the answer is the same as before streaming.
    """
    names = np.array(turbines, dtype=object)
    head = {"start": start, "end": end, "turbines": turbines, "variables": variables, **(fingerprints or {})}
    yield orjson.dumps(head)[:-1] + b',"data":['
    count = 0
    for batch in batches:
        for offset in range(0, batch.num_rows, JSON_ROWS):
            piece = batch.slice(offset, JSON_ROWS)
            yield (b"," if count else b"") + orjson.dumps(_rows(piece, names))[1:-1]
            count += piece.num_rows
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
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    start: dt.datetime,
    end: dt.datetime,
    fingerprints: dict | None = None,
) -> Iterator[bytes]:
    """An Arrow IPC stream; the interval travels in the schema's metadata, the row count in the
    custom metadata of a last, empty batch (the trailer), then the end-of-stream marker.

    Should ``batches`` fail, neither the trailer nor the marker is sent."""
    metadata = {"start": start.isoformat(), "end": end.isoformat()}
    if fingerprints is not None:  # the days' fingerprints and the newest sample, as JSON (``api.fingerprints``)
        metadata[FINGERPRINTS_METADATA_KEY] = orjson.dumps(fingerprints)
    schema = schema.with_metadata(metadata)
    sink = _Chunks()
    count, last = 0, None
    writer = pa.ipc.new_stream(sink, schema)
    for batch in batches:
        writer.write_batch(batch)
        count, last = count + batch.num_rows, batch
        yield sink.take()
    # An empty slice of the last batch keeps its dictionary: no new dictionary message.
    trailer = last.slice(0, 0) if last is not None else empty_batch(schema)
    writer.write_batch(trailer, custom_metadata={COUNT_METADATA_KEY: str(count)})
    writer.close()
    yield sink.take()


def empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    """A record batch of ``schema`` without rows (``pa.nulls``: no pandas import, unlike ``pa.array``)."""
    return pa.RecordBatch.from_arrays([pa.nulls(0, field.type) for field in schema], schema=schema)
