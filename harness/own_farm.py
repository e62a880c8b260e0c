"""A farm of a test's own on the session's server: a source and a target database of their own and an
API process reading that source, so a test can reseed, rename or replace the source (a seed landing
mid-run, a farm that shrinks, hostile turbine names) without touching the session's shared stack.

``own_farm`` yields settings pointing at the three; the caller seeds the source as it needs
(``seed``, ``rename_turbines``, ``add_turbines``). Everything it started is stopped and dropped after.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from etl_lib.config.settings import Settings
from etl_lib.core.contract import DEFAULT_PERIOD_START
from etl_lib.ops.stack import start_api, stop_api
from etl_lib.simulation.seed import SeedResult, seed_source
from etl_lib.storage.engines import engine_for, target_engine
from etl_lib.storage.source import prepare_source

from .stack import free_port, scratch_database


@contextmanager
def own_farm(settings: Settings, runs_dir: Path | None = None) -> Iterator[Settings]:
    """Settings for a source and a target of their own (empty; the source's schema made) and an API
    process of its own on that source (its own port and pid file); ``runs_dir`` for reports."""
    with (
        scratch_database(settings.source_url, "own_source") as source_url,
        scratch_database(settings.target_url, "own_target") as target_url,
        tempfile.TemporaryDirectory(prefix="wind-etl-own-") as folder,
    ):
        own = settings.model_copy(
            update={
                "stack_dir": Path(folder),
                "runs_dir": runs_dir or Path(folder) / "runs",
                "api_port": free_port(),
                "api_url": None,
                "source_database_url": source_url,
                "target_database_url": target_url,
                "api_database_url": source_url,
            }
        )
        prepare_source(engine_for(source_url))
        try:
            start_api(own)
            yield own
        finally:
            stop_api(own)
            target_engine(own).dispose()


def source_of(own: Settings) -> Engine:
    return engine_for(own.source_url)


def seed(own: Settings, turbines: int = 4, days: int = 1, **options) -> SeedResult:
    """Replace the farm's source with a clean generated farm (no injected faults unless given)."""
    return seed_source(source_of(own), DEFAULT_PERIOD_START, days, turbines=turbines, **({"faults": ()} | options))


def rename_turbines(own: Settings, names: dict[str, str]) -> None:
    """Give the source's turbines other names (old -> new), raising the source's version."""
    with source_of(own).begin() as conn:
        for old, new in names.items():
            conn.execute(text("UPDATE turbine SET name = :new WHERE name = :old"), {"old": old, "new": new})
        conn.execute(text("UPDATE source_state SET version = version + 1, changed_at = now()"))


def add_turbines(own: Settings, names: list[str], model: str) -> None:
    """Turbines without samples added to the source's farm (its first farm; of a model it has), raising its
    version."""
    with source_of(own).begin() as conn:
        first = conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM turbine")).scalar_one()
        farm = conn.execute(text("SELECT min(id) FROM farm")).scalar_one()
        conn.execute(
            text("INSERT INTO turbine (id, name, model, farm_id) VALUES (:id, :name, :model, :farm)"),
            [{"id": first + i, "name": name, "model": model, "farm": farm} for i, name in enumerate(names)],
        )
        conn.execute(text("UPDATE source_state SET version = version + 1, changed_at = now()"))


def day_counts(own: Settings, day: dt.date) -> dict[str, int]:
    """Per turbine the target knows, its rows of ``day`` (0 for none)."""
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    with target_engine(own).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.name, count(d.value) FROM turbine t JOIN signal s ON s.turbine_id = t.id "
                "LEFT JOIN data d ON d.signal_id = s.id AND d.timestamp >= :start "
                "AND d.timestamp < :start + interval '1 day' GROUP BY t.name ORDER BY t.name"
            ),
            {"start": start},
        ).all()
    return dict(rows)
