"""Creating and seeding the source database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select, text

from . import generator
from .seed_faults import DEFAULT_FAULTS, Fault, apply_faults
from .db import copy_frame
from .settings import API_READER_ROLE
from .source_schema import metadata, source_data


@dataclass(frozen=True)
class SeedResult:
    start: dt.date
    days: int
    rows_written: int
    skipped: bool


def prepare_source(engine: Engine, reader_role: str = API_READER_ROLE) -> None:
    """Create the ``data`` table and let the API's role read it, and nothing more."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": reader_role}).first():
            conn.execute(text(f'REVOKE ALL ON TABLE data FROM "{reader_role}"'))
            conn.execute(text(f'GRANT SELECT ON TABLE data TO "{reader_role}"'))


def source_row_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(source_data)).scalar_one()


def seed_source(
    engine: Engine,
    start: dt.date = generator.DEFAULT_START,
    days: int = generator.DEFAULT_DAYS,
    seed: int = generator.DEFAULT_SEED,
    *,
    if_empty: bool = False,
    faults: Sequence[Fault] = DEFAULT_FAULTS,
) -> SeedResult:
    """Replace the period's rows with generated ones in one transaction (COPY).

    Seeding is deterministic, so seeding twice leaves the same rows, never duplicates.
    With ``if_empty`` an already populated source is left as it is. ``faults`` inside the
    period are injected (default: the documented ``DEFAULT_FAULTS``; ``()`` for clean data).
    """
    prepare_source(engine)
    if if_empty and source_row_count(engine) > 0:
        return SeedResult(start, days, 0, skipped=True)
    frame = generator.generate(start=start, days=days, seed=seed)
    first = frame["timestamp"].iloc[0]
    frame = apply_faults(frame, faults, seed)
    end = first + dt.timedelta(days=days)
    with engine.begin() as conn:
        conn.execute(delete(source_data).where(source_data.c.timestamp >= first, source_data.c.timestamp < end))
        written = copy_frame(conn, "data", frame)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE data"))
    return SeedResult(start, days, written, skipped=False)
