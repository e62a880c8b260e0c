"""What the farm does at each time, as one turbine's reference: the other turbines' median.

What the whole farm does at once is weather or the grid, not one sensor's fault (the quality checks ask
it), and what the neighbours measure stands in for a turbine's own sensor when that one is suspect (the
potential power asks it). A turbine's neighbours are its own farm's turbines only: given the farm of each
turbine (``farms``), the turbines of other farms, under other weather, never count.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def farm_groups(turbines, farms: Mapping[str, str | None] | None) -> list[list[str]] | None:
    """The ``turbines`` per farm, in their order, when they belong to more than one farm (``farms``: each
    turbine's farm); None when they are one farm's (or the farms are not known)."""
    if farms is None:
        return None
    groups: dict[str | None, list[str]] = {}
    for name in turbines:
        groups.setdefault(farms.get(name), []).append(name)
    return None if len(groups) <= 1 else list(groups.values())


def farm_reference(data: pd.DataFrame, farms: Mapping[str, str | None] | None = None) -> pd.DataFrame:
    """Per turbine (a column), the median of the other turbines' values of its farm at each time: what its farm
    does. ``farms``: each turbine's farm (None: the columns are one farm). NaN where no other turbine of the
    farm has a value, so everywhere for a lone turbine.

    One sort per row instead of a median per turbine: the others' sorted values are the row's sorted
    values without the turbine's own, so their middle is read off at a shifted position.
    """
    groups = farm_groups(data.columns, farms)
    if groups is not None:
        return pd.concat([farm_reference(data[group]) for group in groups], axis=1)[data.columns]
    values = data.to_numpy(dtype="float64")
    rows, columns = values.shape
    finite = np.isfinite(values)
    keyed = np.where(finite, values, np.inf)  # missing values sort last
    order = np.argsort(keyed, axis=1, kind="stable")
    ordered = np.take_along_axis(keyed, order, axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(columns), (rows, columns)), axis=1)
    others = finite.sum(axis=1, keepdims=True) - finite  # finite values of the other turbines

    def other(position: np.ndarray) -> np.ndarray:  # the others' sorted value at ``position``
        skip_own = finite & (position >= rank)
        return np.take_along_axis(ordered, np.clip(position + skip_own, 0, columns - 1), axis=1)

    with np.errstate(invalid="ignore"):
        median = (other((others - 1) // 2) + other(others // 2)) / 2
    median[others < 1] = np.nan
    return pd.DataFrame(median, index=data.index, columns=data.columns)
