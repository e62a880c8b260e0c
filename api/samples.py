"""Reading the samples: Arrow record batches, one binary COPY per chunk of time, all inside one
read-only REPEATABLE READ transaction (a ``Snapshot``, see ``api.farm``) that first read the source's
version and the farm. A chunk holds about ``ROWS_PER_CHUNK`` rows whatever the number of turbines,
and every chunk sees the same snapshot: the version an answer carries is the state of every row in it.

The database is read at its own pace, never at the client's. The first chunk is read before the
answer starts (an unreachable database is then a 503, not a broken answer). When the interval
needs more chunks (a *long* answer), a thread of its own reads them, as fast as PostgreSQL sends
them, into a ``Spool`` (an unlinked temporary file) and gives the connection back to the pool after
the last one; the answer decodes the spooled chunks one at a time as the client reads. Memory holds
one chunk; the spool at most the answer's raw rows (about 73 bytes a row with three variables:
~150 MB for a year of four turbines), gone when the answer ends.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import tempfile
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from functools import cached_property

import psycopg2
import pyarrow as pa
from sqlalchemy import Engine

from etl_lib.core.contract import SAMPLE_PERIOD

from .binary_copy import copy_statement, decode, strings
from .farm import (
    BEGIN_SNAPSHOT,
    FARM_NAMES_QUERY,
    FARM_TURBINE_IDS_QUERY,
    SAMPLE_TABLES,
    TURBINE_IDS_QUERY,
    VERSION_QUERY,
    lock_statement,
    older_schema,
)
from .fingerprints import days_touched, fingerprint_rows, newest_sample
from .params import refuse_unknown_farm

ROWS_PER_CHUNK = 40_000
LONG_ANSWER_ROWS = 8 * ROWS_PER_CHUNK  # a spool of up to ~23 MB; longer answers are "long" (api.limits)
MIN_CHUNK = dt.timedelta(hours=1)
log = logging.getLogger("api")


@dataclass(frozen=True)
class Selection:
    """The turbines of one request: ``ids`` by name in answer order, and whether the answer names them
    (a ``turbine`` column whenever it can hold more than one)."""

    ids: dict[str, int]

    @property
    def with_turbine(self) -> bool:
        return len(self.ids) > 1

    @cached_property
    def names(self) -> pa.Array | None:
        return strings(list(self.ids)) if self.with_turbine else None

    @cached_property
    def positions(self) -> dict[int, int]:
        return {turbine_id: position for position, turbine_id in enumerate(self.ids.values())}

    def chunk(self) -> dt.timedelta:
        return max(MIN_CHUNK, SAMPLE_PERIOD * (ROWS_PER_CHUNK // max(len(self.ids), 1)))

    def chunks(self, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """``[start, end)`` cut into consecutive chunks (never computing an instant past ``end``,
        which may be the last representable one)."""
        step, bounds = self.chunk(), []
        while start < end:
            stop = end if end - start <= step else start + step
            bounds.append((start, stop))
            start = stop
        return bounds


class Spool:
    """Chunks of bytes written in order by one thread (``put``, then ``finish``) and read back in
    order by another (``chunks``), through an unlinked temporary file. The file is closed by
    whichever side lets go last; ``abandoned`` tells the writer that nobody reads any more."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="wind-etl-api-")  # noqa: SIM115 (closed by close())
        self._chunks: list[tuple[int, int]] = []
        self._size = 0
        self._finished = False
        self._error: BaseException | None = None
        self._holders = 2  # the writer and the reader
        self._changed = threading.Condition()

    @property
    def abandoned(self) -> bool:
        with self._changed:
            return self._holders < 2 and not self._finished

    def put(self, data: memoryview) -> None:
        view, offset = memoryview(data), self._size
        while view:
            written = os.pwrite(self._file.fileno(), view, offset)
            view, offset = view[written:], offset + written
        with self._changed:
            self._chunks.append((self._size, offset - self._size))
            self._size = offset
            self._changed.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        """The writer is done: every chunk is in, or ``error`` stopped it."""
        with self._changed:
            self._finished, self._error = True, error
            self._changed.notify_all()
        self._let_go()

    def chunks(self) -> Iterator[bytes]:
        """Each chunk as soon as it is in; the writer's error, if it had one, once the chunks before it are read."""
        index = 0
        while True:
            with self._changed:
                while index == len(self._chunks) and not self._finished:
                    self._changed.wait()
                if index == len(self._chunks):
                    if self._error is not None:
                        raise RuntimeError("reading the samples failed after the answer had started") from self._error
                    return
                offset, length = self._chunks[index]
            yield os.pread(self._file.fileno(), length, offset)
            index += 1

    def close(self) -> None:
        """The reader is done (whole or not)."""
        self._let_go()

    def _let_go(self) -> None:
        with self._changed:
            self._holders -= 1
            last = self._holders == 0
        if last:
            self._file.close()


def _copy(cursor, selection: Selection, variables: list[str], start: dt.datetime, end: dt.datetime) -> memoryview:
    buffer = io.BytesIO()
    cursor.copy_expert(copy_statement(cursor, list(selection.ids.values()), variables, start, end), buffer)
    return buffer.getbuffer()


def _release(connection, broken: bool) -> None:
    """End the read-only transaction and give the connection back; a broken one is dropped instead."""
    try:
        if not broken:
            connection.rollback()
    except Exception:
        broken = True
    if broken:
        connection.invalidate()  # a broken connection must not go back to the pool
    connection.close()


class Snapshot:
    """A pooled connection inside one snapshot of the source (``api.farm``): its ``version`` and its turbines
    (``turbine_ids``: of the farm named, or every farm's), read before any sample. ``sample_batches`` takes it over; whoever does not hand
    it on ``release``s it."""

    def __init__(self, engine: Engine, farm: str | None = None) -> None:
        self.connection = engine.raw_connection()  # pool and connection errors arrive wrapped by SQLAlchemy
        try:
            self.cursor = self.connection.cursor()
            self.cursor.execute(BEGIN_SNAPSHOT)
            self.cursor.execute(lock_statement(SAMPLE_TABLES))
            self.cursor.execute(VERSION_QUERY)
            self.version: int = self.cursor.fetchone()[0]
            if farm is None:
                self.cursor.execute(TURBINE_IDS_QUERY)
            else:  # the farm's turbines (``farm=``): an unknown farm is a 422 naming the farms
                self.cursor.execute(FARM_TURBINE_IDS_QUERY, (farm,))
            self.turbine_ids: dict[str, int] = dict(self.cursor.fetchall())
            if farm is not None and not self.turbine_ids:
                self.cursor.execute(FARM_NAMES_QUERY)
                refuse_unknown_farm(farm, [name for (name,) in self.cursor.fetchall()])
        except psycopg2.Error as exc:  # the app's handler answers the driver's errors with 503
            self.release(broken=True)
            raise (older_schema(exc) or exc) from None
        except BaseException:
            self.release()
            raise

    def fingerprints(self, ids: dict[str, int], start: dt.datetime, end: dt.datetime) -> dict:
        """The fingerprints of the turbines ``ids`` on the days ``[start, end)`` touches, and their newest sample
        (``api.fingerprints``), in this snapshot: the state of the samples the answer sends."""
        first, last = days_touched(start, end)  # a failure: the caller releases the snapshot (a 503 for the driver's)
        return {
            "fingerprints": fingerprint_rows(self.cursor, ids, first, last),
            "newest": newest_sample(self.cursor, ids, first),
        }

    def release(self, broken: bool = False) -> None:
        _release(self.connection, broken)


def _read_rest(connection, cursor, selection, variables, bounds, spool: Spool) -> None:
    """The long answer's reading thread: the remaining chunks into ``spool``, then the connection back."""
    error = None
    try:
        for start, end in bounds:
            if spool.abandoned:  # the client left: stop reading
                break
            spool.put(_copy(cursor, selection, variables, start, end))
    except BaseException as exc:
        error = exc
        log.error("reading the samples failed while the answer was under way: %s", exc)
    finally:
        spool.finish(error)
        _release(connection, broken=error is not None)


def is_long(selection: Selection, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether ``[start, end)`` can hold more than ``LONG_ANSWER_ROWS`` samples of the selection (more
    than 55 days of four turbines, 222 days of one): a long answer, of which the API sends few at once."""
    return (end - start) // SAMPLE_PERIOD * len(selection.ids) > LONG_ANSWER_ROWS


def sample_batches(
    snapshot: Snapshot, selection: Selection, variables: list[str], start: dt.datetime, end: dt.datetime
) -> Generator[pa.RecordBatch, None, None] | LongAnswer:
    """Record batches of the selected turbines' samples in ``[start, end)``, ordered by time then turbine,
    read inside ``snapshot`` (which this takes over and releases); the answer ``close``s them when it
    ends, however far it was read.

    The first chunk is read and decoded before this returns, so an unreachable database (or a
    failed read) raises here and becomes the API's 503, rather than breaking an answer under way.
    """
    bounds = selection.chunks(start, end)
    connection, cursor = snapshot.connection, snapshot.cursor
    try:
        first = decode(_copy(cursor, selection, variables, *bounds[0]), variables, selection.positions, selection.names)
    except psycopg2.Error:  # the app's handler answers the driver's errors with 503
        _release(connection, broken=True)
        raise
    except BaseException:
        _release(connection, broken=False)
        raise
    if len(bounds) == 1:
        _release(connection, broken=False)  # back in the pool before the first byte is sent
        return (batch for batch in first.to_batches())
    spool = Spool()
    reader = threading.Thread(
        target=_read_rest,
        args=(connection, cursor, selection, variables, bounds[1:], spool),
        name="api-samples-reader",
        daemon=True,
    )
    reader.start()
    return LongAnswer(first, spool, selection, variables)


class LongAnswer(Iterator[pa.RecordBatch]):
    """The batches of a long answer: the first chunk's, then each chunk of the spool as the reading thread
    puts it in. ``close`` lets go of the spool, once, whether the answer was read, begun or never started
    (a generator closed before its first step runs no ``finally``: a client gone before the first batch
    left the thread reading the whole range into the spool); the end of the batches, or an error, closes it too."""

    def __init__(self, first: pa.Table, spool: Spool, selection: Selection, variables: list[str]) -> None:
        self._spool: Spool | None = spool
        self._batches = self._all(first, spool, selection, variables)

    @staticmethod
    def _all(first: pa.Table, spool: Spool, selection: Selection, variables: list[str]) -> Iterator[pa.RecordBatch]:
        yield from first.to_batches()
        for data in spool.chunks():
            yield from decode(memoryview(data), variables, selection.positions, selection.names).to_batches()

    def __next__(self) -> pa.RecordBatch:
        try:
            return next(self._batches)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        spool, self._spool = self._spool, None
        if spool is not None:
            self._batches.close()
            spool.close()
