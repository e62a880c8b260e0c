"""Transform: 1-minute samples to 10-minute statistics (pandas).

Buckets are labelled by their start and closed on the left. Statistics are taken over
the non-null samples; a bucket without samples yields nothing, and the standard
deviation (ddof=1) of a single sample is undefined, so it is not written.

Beside them every bucket of the day gets ``count`` (non-null samples present) and
``quality`` (share of the expected samples that are present and pass every check), also
for a bucket without samples: that is where they matter most.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .quality import SAMPLE_PERIOD, QualityResult
from .target_schema import STATISTICS, signal_name

BUCKET = "10min"
EXPECTED_PER_BUCKET = int(pd.Timedelta(BUCKET) / SAMPLE_PERIOD)


def _buckets(frame: pd.DataFrame):
    return frame.resample(BUCKET, label="left", closed="left", origin="epoch")


def aggregate(samples: pd.DataFrame, variables: list[str] | None = None) -> pd.DataFrame:
    """Wide table: one row per bucket start, columns ``(variable, statistic)``."""
    variables = variables or list(samples.columns)
    stats = _buckets(samples[variables]).agg(list(STATISTICS))
    stats.columns = pd.MultiIndex.from_tuples(stats.columns, names=["variable", "statistic"])
    stats.index.name = "timestamp"
    return stats.dropna(how="all")


def bucket_quality(quality: QualityResult, variables: list[str]) -> pd.DataFrame:
    """Wide table over every bucket of the day, columns ``(variable, "count" | "quality")``."""
    count = _buckets(quality.grid[variables].notna()).sum()
    good = _buckets(quality.good()[variables]).sum()
    share = (good / EXPECTED_PER_BUCKET).clip(upper=1.0)
    frame = pd.concat({"count": count.astype("float64"), "quality": share}, axis=1).swaplevel(axis=1)
    frame = frame[[(v, m) for v in variables for m in ("count", "quality")]]
    frame.columns.names = ["variable", "statistic"]
    frame.index.name = "timestamp"
    return frame


def to_signal_rows(stats: pd.DataFrame) -> pd.DataFrame:
    """Long table ``timestamp, signal, value`` of the defined values, ordered by signal then time.

    Reshaped with NumPy: ``DataFrame.stack`` on the column MultiIndex took most of a day's transform.
    """
    stats = stats.sort_index()
    names = np.array([signal_name(v, s) for v, s in stats.columns], dtype=object)
    order = np.argsort(names, kind="stable")
    values = stats.to_numpy(dtype="float64")[:, order].T.ravel()  # signal by signal, each in time order
    buckets = len(stats.index)
    defined = ~np.isnan(values)
    return pd.DataFrame(
        {
            "timestamp": stats.index.take(np.tile(np.arange(buckets), len(names))[defined]).rename(None),
            "signal": np.repeat(names[order], buckets)[defined],
            "value": values[defined],
        }
    )
