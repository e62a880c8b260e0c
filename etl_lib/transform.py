"""Transform: 1-minute samples to 10-minute statistics (pandas).

Buckets are labelled by their start and closed on the left. Statistics are taken over
the non-null samples; a bucket without samples yields nothing, and the standard
deviation (ddof=1) of a single sample is undefined, so it is not written.
"""

from __future__ import annotations

import pandas as pd

from .target_schema import STATISTICS, signal_name

BUCKET = "10min"


def aggregate(samples: pd.DataFrame, variables: list[str] | None = None) -> pd.DataFrame:
    """Wide table: one row per bucket start, columns ``(variable, statistic)``."""
    variables = variables or list(samples.columns)
    resampler = samples[variables].resample(BUCKET, label="left", closed="left", origin="epoch")
    stats = resampler.agg(list(STATISTICS))
    stats.columns = pd.MultiIndex.from_tuples(stats.columns, names=["variable", "statistic"])
    stats.index.name = "timestamp"
    return stats.dropna(how="all")


def to_signal_rows(stats: pd.DataFrame) -> pd.DataFrame:
    """Long table ``timestamp, signal, value`` of the defined values, ordered by signal then time."""
    long = stats.stack(["variable", "statistic"], future_stack=True).dropna().rename("value").reset_index()
    long["signal"] = [signal_name(v, s) for v, s in zip(long["variable"], long["statistic"])]
    return long[["timestamp", "signal", "value"]].sort_values(["signal", "timestamp"], ignore_index=True)
