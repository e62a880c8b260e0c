"""Wind-turbine ETL: source API -> 10-minute statistics -> target database."""

from .errors import EtlError
from .settings import Settings, get_settings

__all__ = ["EtlError", "RunResult", "Settings", "get_settings", "run_etl"]


def __getattr__(name: str):
    """``run_etl`` brings pandas (~55 MB): loaded on first use, so the API process never pays for it."""
    if name in ("RunResult", "run_etl"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
