"""Transform: 1-minute samples of a farm to 10-minute statistics per turbine (pandas, one pass).

Buckets are labelled by their start and closed on the left. Statistics are taken over the
finite non-null samples; a bucket without such samples yields nothing, and the standard
deviation (ddof=1) of a single sample is undefined, so it is not written. A statistic that is
not finite itself (the mean or std of values near 1e308 overflows) is not written either, and
counted, so the run can say so.

Beside them every bucket of the day gets ``count`` (usable samples present) and ``quality``
(share of the expected samples that are present and pass every check), also for a bucket
without samples: that is where they matter most.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..core.contract import (
    BUCKET,
    QUALITY_MEASURES,
    SAMPLE_PERIOD,
    SAMPLES_PER_BUCKET,
    STATISTICS,
    signal_name,
    split_signal_name,
)


def buckets(frame: pd.DataFrame):
    """``frame`` (indexed by UTC time) grouped into the 10-minute buckets of the contract."""
    return frame.resample(BUCKET, label="left", closed="left", origin="epoch")


def _on_bucket_grid(index: pd.DatetimeIndex) -> bool:
    """Every sample period from a bucket start on, whole buckets: the day's regular grid."""
    if len(index) == 0 or len(index) % SAMPLES_PER_BUCKET:
        return False
    start = index[0]
    regular = pd.date_range(start, periods=len(index), freq=SAMPLE_PERIOD)
    return start == start.floor(BUCKET) and index.equals(regular)


def _grid_statistics(chosen: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Mean, min, max and std (ddof 1) per bucket of a frame on the regular grid, every column at once;
    and the non-null samples per bucket and column."""
    # Row-major: a bucket's samples are added one after the other, whichever layout the frame has.
    values = np.ascontiguousarray(chosen.to_numpy(dtype="float64")).reshape(-1, SAMPLES_PER_BUCKET, chosen.shape[1])
    present = ~np.isnan(values)
    counts = present.sum(axis=1)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an empty bucket: NaN, as it should be
        mean = np.nansum(values, axis=1) / counts
        low, high = np.nanmin(values, axis=1), np.nanmax(values, axis=1)
        std = np.sqrt(np.nansum((values - mean[:, None, :]) ** 2, axis=1) / (counts - 1))
    std[counts < 2] = np.nan
    mean[counts == 0] = np.nan
    stacked = np.stack([mean, low, high, std], axis=2).reshape(len(mean), -1)  # column by column, statistics inside
    # (turbine, variable, statistic) from the frame's own codes: building it from tuples factorized every level
    named, count = chosen.columns, len(STATISTICS)
    columns = pd.MultiIndex(
        levels=[*named.levels, list(STATISTICS)],
        codes=[*(np.repeat(codes, count) for codes in named.codes), np.tile(np.arange(count), len(named))],
        names=[*named.names, "statistic"],
    )
    index = chosen.index[::SAMPLES_PER_BUCKET]
    return pd.DataFrame(stacked, index=index, columns=columns), counts


def aggregate(grid: pd.DataFrame, variables: list[str]) -> tuple[pd.DataFrame, int]:
    """Statistics per bucket of ``grid`` (time x ``(turbine, variable)``, unusable values as NaN):
    columns ``(turbine, variable, statistic)``, and how many statistics were left out as not finite.

    On the day's regular 1-minute grid (what the ETL builds) NumPy takes every column at once; any
    other index goes through pandas' resample, with the same results."""
    chosen = grid.loc[:, grid.columns.get_level_values("variable").isin(variables)]
    if _on_bucket_grid(chosen.index):
        stats, counts = _grid_statistics(chosen)
    else:
        grouped = buckets(chosen)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is handled below: left out and counted
            stats = grouped.agg(list(STATISTICS))
        counts = grouped.count().to_numpy()
    stats.columns = stats.columns.set_names(["turbine", "variable", "statistic"])
    stats.index.name = "timestamp"
    # Defined: mean, min and max from one sample on, std from two. Defined but not finite: overflowed.
    needed = np.array([2 if statistic == "std" else 1 for statistic in stats.columns.get_level_values("statistic")])
    overflowed = (np.repeat(counts, len(STATISTICS), axis=1) >= needed) & ~np.isfinite(stats.to_numpy())
    if overflowed.any():
        stats = stats.mask(overflowed)
    return stats.dropna(how="all"), int(overflowed.sum())


def bucket_quality(present: pd.DataFrame, good: pd.DataFrame) -> pd.DataFrame:
    """Over every bucket of the day, columns ``(turbine, variable, "count" | "quality")``, from two boolean
    frames on the day's 1-minute grid with columns ``(turbine, variable)``: which samples are present and
    usable, and which are good."""
    count = buckets(present).sum().astype("float64")
    share = (buckets(good[present.columns]).sum() / SAMPLES_PER_BUCKET).clip(upper=1.0)
    frame = pd.concat({"count": count, "quality": share}, axis=1)  # (measure, turbine, variable)
    frame = frame.reorder_levels([1, 2, 0], axis=1)
    order = [(t, v, m) for t, v in present.columns for m in QUALITY_MEASURES]
    frame = frame[order]
    frame.columns.names = ["turbine", "variable", "statistic"]
    frame.index.name = "timestamp"
    return frame


def trusted_statistics(grid: pd.DataFrame, good: pd.DataFrame, variables: list[str]) -> pd.DataFrame:
    """The statistics of the good samples per bucket, columns ``(turbine, variable, "good_<statistic>")``, for
    the buckets where some usable sample is not good (elsewhere they equal the as-measured ones). Only the
    columns with such a bucket are aggregated: on most days a few, or none (an empty frame)."""
    wanted = grid.columns.get_level_values("variable").isin(variables)
    chosen = grid.loc[:, wanted]
    if good.columns.equals(grid.columns):
        good = good.loc[:, wanted]
    else:
        good = good.reindex(columns=chosen.columns, fill_value=False)
    values = chosen.to_numpy(dtype="float64")
    kept = np.where(good.to_numpy(dtype=bool), values, np.nan)
    if _on_bucket_grid(chosen.index):  # the day's grid: the usable and the good samples counted in one pass each
        shape = (-1, SAMPLES_PER_BUCKET, chosen.shape[1])
        differs = pd.DataFrame(
            (~np.isnan(kept)).reshape(shape).sum(axis=1) < (~np.isnan(values)).reshape(shape).sum(axis=1),
            index=chosen.index[::SAMPLES_PER_BUCKET],
            columns=chosen.columns,
        )
    else:
        frame = pd.DataFrame(kept, index=chosen.index, columns=chosen.columns)
        differs = buckets(frame.notna()).sum() < buckets(chosen.notna()).sum()
    some = differs.to_numpy().any(axis=0)
    names = ["turbine", "variable", "statistic"]
    if not some.any():  # every usable sample good
        empty = pd.MultiIndex.from_arrays([[], [], []], names=names)
        return pd.DataFrame(index=differs.index[:0], columns=empty, dtype="float64")
    stats, _ = aggregate(pd.DataFrame(kept[:, some], index=chosen.index, columns=chosen.columns[some]), variables)
    mask = differs.reindex(stats.index, fill_value=False).reindex(columns=stats.columns.droplevel("statistic"))
    stats = stats.where(mask.to_numpy())
    statistic = stats.columns.levels[2]
    stats.columns = stats.columns.set_levels([f"good_{name}" for name in statistic], level="statistic")
    return stats.dropna(how="all")


def bucket_means(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The mean per bucket of each frame (time x turbine, all on one index and of the same turbines) of
    ``frames``, keyed by its signal's name (e.g. the potential power): columns ``(turbine, variable, measure)``.
    One resample for all of them."""
    first = next(iter(frames.values()))
    turbines = list(first.columns)
    values = np.hstack([frame[turbines].to_numpy(dtype="float64") for frame in frames.values()])
    means = buckets(pd.DataFrame(values, index=first.index)).mean()
    named = [split_signal_name(name) for name in frames]
    means.columns = pd.MultiIndex.from_arrays(
        [
            turbines * len(named),
            [variable for variable, _ in named for _ in turbines],
            [measure for _, measure in named for _ in turbines],
        ],
        names=["turbine", "variable", "statistic"],
    )
    means.index.name = "timestamp"
    return means


def to_signal_rows(stats: pd.DataFrame) -> pd.DataFrame:
    """Long table ``turbine, timestamp, signal, value`` of the defined values of a frame with columns
    ``(turbine, variable, statistic)``, ordered by turbine, signal, then time.

    Reshaped with NumPy: ``DataFrame.stack`` on the column MultiIndex took most of a day's transform.
    """
    stats = stats.sort_index()
    turbines = stats.columns.get_level_values("turbine").to_numpy(dtype=object)
    names = np.array([signal_name(v, s) for _, v, s in stats.columns], dtype=object)
    order = np.lexsort((names, turbines))
    values = stats.to_numpy(dtype="float64")[:, order].T.ravel()  # column by column, each in time order
    count = len(stats.index)
    defined = ~np.isnan(values)
    return pd.DataFrame(
        {
            "turbine": np.repeat(turbines[order], count)[defined],
            "timestamp": stats.index.take(np.tile(np.arange(count), len(order))[defined]).rename(None),
            "signal": np.repeat(names[order], count)[defined],
            "value": values[defined],
        }
    )
