"""Seeding the source database with a generated fleet: its farms, their models, their turbines, their
samples and their status log (the status codes and each turbine's events, which agree with the samples).

Seeding makes the source exactly that fleet over exactly that period, in one transaction, loaded
with binary COPY one turbine at a time; seeding twice leaves the same rows, never duplicates, and
a smaller fleet or a shorter period replaces a larger one. The default is one farm of four turbines. The
same transaction raises the source's version (``source_state``), so every reader can tell the state
before from the state after.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, insert, text

from ..core.contract import (
    DEFAULT_FARMS,
    DEFAULT_MODELS,
    DEFAULT_PERIOD_DAYS,
    DEFAULT_PERIOD_START,
    DEFAULT_SEED,
    DEFAULT_TURBINES,
    SOURCE_VARIABLES,
)
from ..core.turbines import TurbineModel
from ..storage.copy import copy_frame
from ..storage.fleet import model_row
from ..storage.source import (
    bump_source_version,
    farm,
    prepare_source,
    source_data,
    source_row_count,
    status_code,
    turbine,
    turbine_event,
    turbine_model,
)
from . import generator, status_log
from .faults import DEFAULT_FAULTS, Fault, inject


@dataclass(frozen=True)
class SeedResult:
    start: dt.date
    days: int
    turbines: int  # per farm
    rows_written: int
    skipped: bool
    farms: int = DEFAULT_FARMS
    version: int | None = None  # the source's version the seed made (None: skipped)


def seed_source(
    engine: Engine,
    start: dt.date = DEFAULT_PERIOD_START,
    days: int = DEFAULT_PERIOD_DAYS,
    seed: int = DEFAULT_SEED,
    *,
    farms: int = DEFAULT_FARMS,
    turbines: int = DEFAULT_TURBINES,
    models: Sequence[str | TurbineModel] = DEFAULT_MODELS,
    if_empty: bool = False,
    faults: Sequence[Fault] = DEFAULT_FAULTS,
) -> SeedResult:
    """Replace the source with a generated fleet of ``farms`` farms (``generator.build_fleet``: WF01, WF02, …, each
    at its own site and in its own weather) of ``turbines`` turbines of ``models`` each, over ``days`` UTC days
    from ``start``. With ``if_empty`` a source that has samples is left as it is. ``faults`` inside the period
    are injected (default: the documented ``DEFAULT_FAULTS``, on the turbines they name and, farm-wide, at the
    first farm; ``()`` for clean data)."""
    fleet = generator.build_fleet(farms, turbines, models)  # bad sizes or models: refused before anything
    prepare_source(engine)
    if if_empty and source_row_count(engine) > 0:
        return SeedResult(start, days, turbines, 0, skipped=True, farms=farms)
    members = [member for site_turbines in fleet for member in site_turbines]
    written = 0
    with engine.begin() as conn:
        tables = (turbine_event, status_code, source_data, turbine, turbine_model, farm)
        conn.execute(text(f"TRUNCATE {', '.join(table.name for table in tables)}"))
        conn.execute(insert(farm), [{"id": t[0].site.number, **t[0].site.as_row()} for t in fleet])
        conn.execute(insert(turbine_model), [model_row(m) for m in {t.model.name: t.model for t in members}.values()])
        conn.execute(
            insert(turbine),
            [
                {
                    "id": number,
                    "name": t.name,
                    "farm_id": t.site.number,
                    "model": t.model.name,
                    "latitude": t.latitude,
                    "longitude": t.longitude,
                    "elevation": t.elevation,
                }
                for number, t in enumerate(members, start=1)
            ],
        )
        conn.execute(
            insert(status_code),
            [
                {"code": s.code, "description": s.description, "category": s.category.value}
                for s in status_log.STATUS_CODES
            ],
        )
        generated = (pair for site_turbines in fleet for pair in generator.generate(site_turbines, start, days, seed))
        for number, (member, frame) in enumerate(generated, start=1):
            minutes = inject(frame, faults, seed, turbine=member.name, farm=member.site.name)
            log = status_log.events(minutes["timestamp"], minutes["state"].to_numpy())
            copy_frame(conn, turbine_event.name, log.assign(turbine_id=number))
            samples = minutes.loc[minutes["present"], ["timestamp", *SOURCE_VARIABLES]]
            written += copy_frame(conn, source_data.name, samples.assign(turbine_id=number))
        version = bump_source_version(conn)
    with engine.begin() as conn:
        conn.execute(text(f"ANALYZE {source_data.name}, {turbine_event.name}, {turbine.name}, {farm.name}"))
    return SeedResult(start, days, turbines, written, skipped=False, farms=farms, version=version)
