"""The data contract shared by the API, the ETL and the reports, defined once.

The source's variables and their units, the 1-minute sample period and the 10-minute bucket,
the statistics and the names of the target's signals, the media types of ``/data``, and the
statuses a run can end in. Plain Python only: the API imports this without pandas.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

# --- the source ----------------------------------------------------------------------------------

SOURCE_TABLE = "data"
FARM_TABLE = "farm"  # the sites of the fleet: each turbine belongs to one
TURBINE_TABLE = "turbine"
MODEL_TABLE = "turbine_model"
STATUS_CODE_TABLE = "status_code"  # the status log: codes and their IEC 61400-26-1 categories ...
EVENT_TABLE = "turbine_event"  # ... and each turbine's events
# One row: the source's version, a number every replacement of the source (``etl seed``) raises in the
# same transaction as the rows it writes, so a reader can tell two states of the source apart.
SOURCE_STATE_TABLE = "source_state"
# Each (turbine, UTC day)'s fingerprint: its rows, a checksum of their values and its newest timestamp, kept
# current by triggers on ``data`` (source revision 0007, docs/live.md): the changed days without reading samples.
FINGERPRINT_TABLE = "day_fingerprint"
# The turbine that rows written before the farm (one anonymous turbine) belong to after migration.
DEFAULT_TURBINE = "WT01"
# The farm the default seed makes, and that turbines from before the fleet belong to after migration.
DEFAULT_FARM = "WF01"
# A farm's name names folders (runs/<farm>/) and Dagster partitions (farm x day): letters, digits and
# ``_ . -``, starting with a letter or digit, at most 64 characters (the source's table holds to it).
FARM_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
SOURCE_VARIABLES: tuple[str, ...] = ("wind_speed", "power", "ambient_temperature")
UNITS: dict[str, str] = {"wind_speed": "m/s", "power": "kW", "ambient_temperature": "°C"}
DESCRIPTIONS: dict[str, str] = {
    "wind_speed": "Nacelle wind speed, 1-minute mean.",
    "power": "Active power at the turbine terminals, 1-minute mean.",
    "ambient_temperature": "Ambient air temperature, 1-minute mean.",
}
SAMPLE_PERIOD = dt.timedelta(minutes=1)
# The period the default seed fills (docs/farm.md): where the daily partitions start.
DEFAULT_PERIOD_START = dt.date(2024, 10, 1)
DEFAULT_PERIOD_DAYS = 10
DEFAULT_SEED = 42  # the generator's seed: the same seed gives the same data
DEFAULT_TURBINES = 4  # per farm
DEFAULT_FARMS = 1
DEFAULT_MODELS: tuple[str, ...] = ("V90/2000", "E-82/2000")  # catalogue names (core.turbines)
# The live feed's links (`etl feed`, simulation.links), in simulated minutes: every FEED_LATE_EVERY minutes one
# turbine's link drops for FEED_LATE_MINUTES minutes and its rows then arrive in one batch; every
# FEED_CORRECT_EVERY minutes FEED_CORRECT_MINUTES rows of one turbine are sent wrong and re-sent corrected
# FEED_CORRECT_AFTER minutes after the last of them.
FEED_LATE_EVERY = 120
FEED_LATE_MINUTES = 15
FEED_CORRECT_EVERY = 90
FEED_CORRECT_MINUTES = 10
FEED_CORRECT_AFTER = 30

# --- the API's answers ---------------------------------------------------------------------------

JSON_MEDIA_TYPE = "application/json"
# The columnar answer of /data (Arrow IPC stream), which the ETL asks for first.
ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"
# Every /data answer states how many rows it sent, last: JSON's member ``count`` after ``data``; in
# Arrow, the custom metadata of the stream's last (empty) record batch, before the end-of-stream marker.
COUNT_METADATA_KEY = "count"
# Every /data answer carries the fingerprints of the days it touches and the newest sample of its turbines
# (docs/live.md), read in the same snapshot as its samples: JSON's members ``fingerprints`` and ``newest``
# before ``data``; in Arrow, the schema's metadata under this key, a JSON document of both.
FINGERPRINTS_METADATA_KEY = "fingerprints"
# The most days one /fingerprints answer covers (a fingerprint is ~100 bytes: a year of 100 turbines ~4 MB).
MAX_FINGERPRINT_DAYS = 3660
# Every answer that reads the source says which state of it: its version (``SOURCE_STATE_TABLE``), read
# in the same snapshot as the rest of the answer.
SOURCE_VERSION_HEADER = "X-Source-Version"
# JSON has no NaN or Infinity: /data sends a non-finite sample as one of these strings (Arrow as is).
NON_FINITE_JSON: dict[str, float] = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}

# --- the target ----------------------------------------------------------------------------------

KPI_TABLE = "turbine_day_kpi"  # what each turbine did each day (energy, potential, losses, category minutes)

ETL_VARIABLES: tuple[str, ...] = ("wind_speed", "power")
STATISTICS: tuple[str, ...] = ("mean", "min", "max", "std")
# Beside the statistics, per bucket: non-null samples present (0..10) and the share of the 10
# expected samples that are present and pass every quality check (0..1).
QUALITY_MEASURES: tuple[str, ...] = ("count", "quality")
# Statistics a reader can trust: those of the samples that passed every check, kept where they differ from
# the as-measured ones (a bucket with a sample the checks refused); elsewhere the two are the same.
TRUSTED_STATISTICS: tuple[str, ...] = tuple(f"good_{statistic}" for statistic in STATISTICS)
# Each bucket's mean potential power (kW): what the turbine could have produced (docs/kpis.md) ...
POTENTIAL_SIGNAL = "power_potential"
# ... and the share of its minutes in full performance (0..1): 1 is normal operation, what a power curve reads.
FULL_PERFORMANCE_SIGNAL = "power_full_performance"
# 10-minute buckets, labelled by their start and closed on the left.
BUCKET = dt.timedelta(minutes=10)
SAMPLES_PER_BUCKET = BUCKET // SAMPLE_PERIOD
BUCKETS_PER_DAY = dt.timedelta(days=1) // BUCKET
# The least share (0..1) of a variable's samples in a day that should pass the quality checks: the
# default of Dagster's quality check, and the line the reports draw.
MIN_GOOD_SHARE = 0.95


class RunStatus(StrEnum):
    """How a run of one day ended, as the run record and the audit report keep it."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"


def signal_name(variable: str, statistic: str) -> str:
    """``<variable>_<statistic>``, e.g. ``power_mean`` or ``wind_speed_quality``."""
    return f"{variable}_{statistic}"


def split_signal_name(name: str) -> tuple[str, str]:
    """``power_mean`` -> (``power``, ``mean``); a name of no known variable is (name, "")."""
    for variable in sorted(SOURCE_VARIABLES, key=len, reverse=True):
        if name.startswith(f"{variable}_"):
            return variable, name[len(variable) + 1 :]
    return name, ""


def statistic_signal_names() -> list[str]:
    """The 10-minute statistics, comparable with the source."""
    return [signal_name(v, s) for v in ETL_VARIABLES for s in STATISTICS]


def quality_signal_names() -> list[str]:
    """The ``<variable>_quality`` signals, in the ETL's variable order."""
    return [signal_name(v, "quality") for v in ETL_VARIABLES]


def etl_signal_names() -> list[str]:
    """The signals the ETL writes for every bucket it has samples for: the statistics and the ``_count`` and
    ``_quality`` signals (the ones Dagster's check counts)."""
    return [signal_name(v, s) for v in ETL_VARIABLES for s in (*STATISTICS, *QUALITY_MEASURES)]


def trusted_signal_names() -> list[str]:
    """The good samples' statistics, ``<variable>_good_<statistic>``."""
    return [signal_name(v, s) for v in ETL_VARIABLES for s in TRUSTED_STATISTICS]


def written_signal_names() -> list[str]:
    """Every signal a run with KPIs writes (and replaces): the ETL's, the trusted statistics, the potential power
    and the share of full performance."""
    return [*etl_signal_names(), *trusted_signal_names(), POTENTIAL_SIGNAL, FULL_PERFORMANCE_SIGNAL]
