"""Generated farm data for tests: the default farm's samples with injected faults, and how to read
what the checks made of them."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from etl_lib.core.contract import SAMPLE_PERIOD
from etl_lib.simulation import generator
from etl_lib.simulation.faults import apply_faults

FARM_MODELS = {t.name: t.model for t in generator.build_farm()}  # the default farm's models by turbine


def at(day: dt.date, hhmm: str) -> pd.Timestamp:
    return pd.Timestamp(f"{day.isoformat()}T{hhmm}Z")


def minutes(day: dt.date, hhmm: str, n: int, period: dt.timedelta = SAMPLE_PERIOD) -> pd.DatetimeIndex:
    return pd.date_range(at(day, hhmm), periods=n, freq=period)


def generated(start: dt.date, days: int = 1, faults=(), seed: int = 42) -> pd.DataFrame:
    """The default farm's samples with ``faults``: index (turbine, timestamp), one column per variable."""
    farm = generator.build_farm()
    frames = {
        t.name: apply_faults(f, faults, seed, turbine=t.name).set_index("timestamp")
        for t, f in generator.generate(farm, start, days, seed)
    }
    return pd.concat(frames, names=["turbine", "timestamp"])


def flagged(result, turbine: str, variable: str, check_name: str) -> pd.DatetimeIndex:
    """The instants ``check_name`` flagged ``variable`` of ``turbine`` in a ``QualityResult``."""
    column = result.flags[(turbine, variable, check_name)]
    return column[column].index


def counts(result) -> dict[tuple[str, str, str], int]:
    """``(turbine, variable, check) -> samples flagged`` of a ``QualityResult``, the non-zero ones."""
    totals = result.flags.sum()
    return {key: int(n) for key, n in totals[totals > 0].items()}


def ten_minute_means(samples: pd.DataFrame) -> pd.DataFrame:
    """A 10-minute export of ``samples``: means labelled by their start, rounded as exports write them."""
    by = [pd.Grouper(level="turbine"), pd.Grouper(level="timestamp", freq="10min")]
    return samples.groupby(by).mean().round({"wind_speed": 2, "power": 1, "ambient_temperature": 2})
