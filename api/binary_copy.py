"""PostgreSQL's binary COPY format, decoded into Arrow by NumPy.

``copy_statement`` asks for the turbine's id, ``timestamp`` and, per variable,
``coalesce(value, 0)`` and ``value IS NULL``: every field is present and fixed-size, so a whole
answer parses as one NumPy structured array (``decode``). Measured here for a year of two
variables: a psycopg2 server-side cursor took 1.9 s (a Python object per value), text COPY
0.34 s, binary COPY 0.18 s.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from etl_lib.core.contract import SOURCE_TABLE

# PostgreSQL's binary timestamps count microseconds from 2000-01-01 UTC.
_PG_EPOCH_US = 946_684_800 * 1_000_000
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00"
TURBINE_TYPE = pa.dictionary(pa.int32(), pa.string())


def arrow_schema(variables: list[str], with_turbine: bool) -> pa.Schema:
    """``timestamp`` (UTC, microseconds), the ``turbine`` (its name) when the answer can hold more than
    one, then one float64 column per variable, nulls allowed."""
    fields = [pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False)]
    if with_turbine:
        fields.append(pa.field("turbine", TURBINE_TYPE, nullable=False))
    return pa.schema(fields + [pa.field(name, pa.float64()) for name in variables])


def copy_statement(cursor, turbine_ids: list[int], variables: list[str], start: dt.datetime, end: dt.datetime) -> str:
    """``COPY (SELECT ...) TO STDOUT (FORMAT binary)`` of the turbines' samples in ``[start, end)``, by
    time then turbine."""
    columns = ", ".join(
        ['"turbine_id"', '"timestamp"', *(f'coalesce("{name}", 0), "{name}" IS NULL' for name in variables)]
    )
    return cursor.mogrify(
        f'COPY (SELECT {columns} FROM "{SOURCE_TABLE}" WHERE "turbine_id" = ANY(%s) '
        f'AND "timestamp" >= %s AND "timestamp" < %s ORDER BY "timestamp", "turbine_id") TO STDOUT (FORMAT binary)',
        (turbine_ids, start, end),
    ).decode()


def _row_layout(variables: list[str]) -> np.dtype:
    fields = [
        ("fields", ">i2"),
        ("turbine_size", ">i4"),
        ("turbine", ">i4"),
        ("timestamp_size", ">i4"),
        ("timestamp", ">i8"),
    ]
    for i in range(len(variables)):
        fields += [(f"size{i}", ">i4"), (f"value{i}", ">f8"), (f"null_size{i}", ">i4"), (f"null{i}", "?")]
    return np.dtype(fields)


def _from_numpy(kind: pa.DataType, values: np.ndarray, nulls: np.ndarray | None = None) -> pa.Array:
    """An Arrow array over NumPy's buffers. (``pa.array(ndarray)`` would import pandas: +55 MB here.)"""
    validity = None
    if nulls is not None and nulls.any():
        validity = pa.py_buffer(np.packbits(~nulls, bitorder="little"))
    return pa.Array.from_buffers(kind, len(values), [validity, pa.py_buffer(np.ascontiguousarray(values))])


def strings(values: list[str]) -> pa.StringArray:
    """An Arrow string array over NumPy's buffers (``pa.array`` would import pandas)."""
    data = [value.encode() for value in values]
    offsets = np.zeros(len(data) + 1, dtype="<i4")
    offsets[1:] = np.cumsum([len(item) for item in data])
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def decode(data: memoryview, variables: list[str], turbines: dict[int, int], names: pa.Array | None) -> pa.Table:
    """The answer of ``copy_statement`` as an Arrow table of ``arrow_schema``: ``turbines`` maps each
    turbine id to its position in ``names`` (the dictionary of the ``turbine`` column; None: no column)."""
    if bytes(data[:11]) != _BINARY_HEADER:
        raise RuntimeError("COPY did not return PostgreSQL's binary format")
    body = data[19 + int.from_bytes(data[15:19], "big") : len(data) - 2]  # after the header, before the trailer
    layout = _row_layout(variables)
    if len(body) % layout.itemsize:
        raise RuntimeError(f"binary COPY rows are not {layout.itemsize} bytes each")
    rows = np.frombuffer(body, dtype=layout)
    if len(rows) and not (rows["fields"] == 2 + 2 * len(variables)).all():
        raise RuntimeError("binary COPY rows have an unexpected number of fields")
    timestamps = rows["timestamp"].astype("<i8") + _PG_EPOCH_US
    arrays = [_from_numpy(pa.timestamp("us", tz="UTC"), timestamps)]
    if names is not None:
        lookup = np.zeros(max(turbines) + 1, dtype="<i4")
        lookup[list(turbines)] = list(turbines.values())
        indices = _from_numpy(pa.int32(), lookup[rows["turbine"].astype("<i4")])
        arrays.append(pa.DictionaryArray.from_arrays(indices, names))
    arrays += [
        _from_numpy(pa.float64(), rows[f"value{i}"].astype("<f8"), rows[f"null{i}"]) for i in range(len(variables))
    ]
    return pa.Table.from_arrays(arrays, schema=arrow_schema(variables, names is not None))
