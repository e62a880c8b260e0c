"""Daily summaries of the quality flags: pure functions over the frames ``pipeline.quality`` makes.

``flags`` has boolean columns ``(turbine, variable, check)`` on a day's time grid, True where a check
flagged a sample; ``good`` boolean columns ``(turbine, variable)``, True where a sample is present,
usable and flagged by none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd


def suspect(flags: pd.DataFrame, columns: pd.Index, checks: Iterable[str] | None = None) -> pd.DataFrame:
    """Per ``(turbine, variable)`` of ``columns``: True where any check (of ``checks``, default all) flagged
    the sample. Each flag column is or-ed into its ``(turbine, variable)`` in NumPy (grouping the transposed
    frame took milliseconds a day)."""
    chosen = None if checks is None else set(checks)
    position = {column: number for number, column in enumerate(columns)}  # a dict: get_indexer took a millisecond
    owned = [
        (number, position[column[:2]])
        for number, column in enumerate(flags.columns)
        if column[:2] in position and (chosen is None or column[2] in chosen)
    ]
    values = flags.to_numpy(dtype=bool)
    result = np.zeros((len(flags.index), len(columns)), dtype=bool)
    for flag, owner in owned:
        result[:, owner] |= values[:, flag]
    return pd.DataFrame(result, index=flags.index, columns=columns, copy=False)


def day_quality(good: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``{turbine: {variable: share of the day's expected samples that are good}}``."""
    shares = good.mean().to_dict()
    turbines = list(dict.fromkeys(good.columns.get_level_values("turbine")))
    variables = list(dict.fromkeys(good.columns.get_level_values("variable")))
    return {turbine: {v: float(shares[(turbine, v)]) for v in variables} for turbine in turbines}


def flag_counts(
    flags: pd.DataFrame, turbines: Iterable[str], variables: Iterable[str], checks: Iterable[str]
) -> dict[str, dict[str, dict[str, int]]]:
    """``{turbine: {check: {variable: samples flagged}}}`` for every turbine, check and variable (zeros
    included)."""
    counts, variables, checks = flags.sum().to_dict(), list(variables), list(checks)
    return {
        turbine: {c: {v: int(counts.get((turbine, v, c), 0)) for v in variables} for c in checks}
        for turbine in turbines
    }


def lowest_share(quality: Mapping[str, Mapping[str, float]] | None) -> dict[str, float]:
    """Per variable, the lowest share of good samples of the day's turbines (``{turbine: {variable:
    share}}``, as a run records it); a record from before the farm (``{variable: share}``) as it is."""
    quality = quality or {}
    if not all(isinstance(shares, Mapping) for shares in quality.values()):
        return dict(quality)
    lowest: dict[str, float] = {}
    for shares in quality.values():
        for variable, share in shares.items():
            lowest[variable] = min(lowest.get(variable, 1.0), share)
    return lowest


def stretches(flags: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp, int]]:
    """The stretches of consecutive True samples of one flag series: ``(first, last, samples)`` each."""
    if not flags.any():
        return []
    stretch = flags.ne(flags.shift()).cumsum()[flags]
    return [(members.index[0], members.index[-1], len(members)) for _, members in stretch.groupby(stretch)]


def daily_mean(shares: pd.DataFrame) -> pd.DataFrame:
    """Per column, the mean of each UTC day's values (``shares`` indexed by UTC time, e.g. the buckets'
    ``<variable>_quality``): one row per day."""
    return shares.groupby(shares.index.floor("D")).mean()
