"""COPY into a table in PostgreSQL's binary format, built by NumPy: no per-value Python or text.

Columns are NumPy arrays: integers (int4), floats (float8, with an optional null mask: NaN is a
value, not a null) and datetimes (timestamptz, UTC). Rows without nulls are laid out as one
structured array; rows with nulls are grouped by which fields are null, each group one array.
Measured here for a day of 100 turbines (288,000 target rows): about a tenth of the time of the
CSV text COPY that pandas' ``to_csv`` feeds.

When the server ends the connection under a COPY (shut down, restarted, the session terminated),
psycopg2 decodes the server's message while its error is still pending: the resulting
``SystemError: <function decode …> returned a result with an exception set`` (caused by the
driver's error) is handed to ``sys.excepthook``, which printed it, and in a notebook showed it as the
cell's error, before the COPY failed as it should. ``copy_rows`` drops exactly that report; the COPY's
own error still ends the load (``pipeline.load``: ``TargetWriteError``).
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import pandas as pd
import psycopg2
from sqlalchemy import Connection

_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)
_PG_EPOCH = np.datetime64("2000-01-01T00:00:00", "us")


def _wire(values: np.ndarray) -> tuple[np.ndarray, str]:
    """Values in the big-endian form PostgreSQL reads, and that form's NumPy type."""
    if values.dtype.kind == "M":
        micros = (values.astype("datetime64[us]") - _PG_EPOCH).astype("int64")
        return micros, ">i8"
    if values.dtype.kind in "iu":
        return values.astype("int64"), ">i4"
    if values.dtype.kind == "f":
        return values.astype("float64"), ">f8"
    raise TypeError(f"cannot COPY a column of {values.dtype} in binary form")


def binary_payload(columns: Mapping[str, np.ndarray], nulls: Mapping[str, np.ndarray] | None = None) -> bytes:
    """The COPY ... FROM STDIN (FORMAT binary) stream of ``columns`` (equal lengths)."""
    names = list(columns)
    wired = {name: _wire(np.asarray(columns[name])) for name in names}
    count = len(next(iter(wired.values()))[0]) if wired else 0
    masks = {name: np.asarray((nulls or {}).get(name, np.zeros(count, bool)), dtype=bool) for name in names}
    pattern = np.zeros(count, dtype=np.int64)
    for bit, name in enumerate(names):
        pattern |= masks[name].astype(np.int64) << bit
    parts = [_HEADER]
    for key in np.unique(pattern):
        rows = np.flatnonzero(pattern == key)
        null = {name: bool(key >> bit & 1) for bit, name in enumerate(names)}
        fields = [("count", ">i2")]
        for name in names:
            fields.append((f"{name}.size", ">i4"))
            if not null[name]:
                fields.append((name, wired[name][1]))
        block = np.empty(len(rows), dtype=fields)
        block["count"] = len(names)
        for name in names:
            kind = np.dtype(wired[name][1])
            block[f"{name}.size"] = -1 if null[name] else kind.itemsize
            if not null[name]:
                block[name] = wired[name][0][rows]
        parts.append(block.tobytes())
    parts.append(_TRAILER)
    return b"".join(parts)


def copy_rows(
    conn: Connection, table: str, columns: Mapping[str, np.ndarray], nulls: Mapping[str, np.ndarray] | None = None
) -> int:
    """COPY ``columns`` into ``table`` inside the connection's open transaction; return the rows."""
    payload = binary_payload(columns, nulls)
    cursor = conn.connection.driver_connection.cursor()
    try:
        names = ", ".join(f'"{name}"' for name in columns)
        with _without_decode_reports():
            cursor.copy_expert(f'COPY "{table}" ({names}) FROM STDIN (FORMAT binary)', io.BytesIO(payload))
    finally:
        cursor.close()
    return len(next(iter(columns.values()))) if columns else 0


_hooking = threading.Lock()


def _decode_report(exc_type: type, exc: BaseException) -> bool:
    """The report psycopg2 makes when the connection dies under it (see the module)."""
    return exc_type is SystemError and isinstance(exc.__cause__, psycopg2.Error)


@contextmanager
def _without_decode_reports() -> Iterator[None]:
    """While inside, ``sys.excepthook`` drops psycopg2's decode report and passes everything else on."""
    with _hooking:
        previous = sys.excepthook

        def hook(exc_type, exc, traceback) -> None:
            if not _decode_report(exc_type, exc):
                previous(exc_type, exc, traceback)

        sys.excepthook = hook
    try:
        yield
    finally:
        with _hooking:
            if sys.excepthook is hook:
                sys.excepthook = previous


def copy_frame(conn: Connection, table: str, frame: pd.DataFrame) -> int:
    """COPY a frame's columns into ``table``; NaN in a float column and NaT are written as NULL."""
    columns, nulls = {}, {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            column = column.dt.tz_convert("UTC").dt.tz_localize(None)
        values = column.to_numpy()
        columns[name] = values
        if values.dtype.kind in "fM":
            nulls[name] = pd.isna(column).to_numpy()
    return copy_rows(conn, table, columns, nulls)
