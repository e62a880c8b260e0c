"""Wind-turbine ETL: source API -> 10-minute statistics -> target database."""

from .errors import EtlError
from .pipeline import RunResult, run_etl
from .settings import Settings, get_settings

__all__ = ["EtlError", "RunResult", "Settings", "get_settings", "run_etl"]
