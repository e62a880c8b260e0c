"""Power curves by the method of bins (IEC 61400-12-1), one implementation for every use.

``wind_bins`` puts wind speeds into bins of ``bin_width`` m/s, closed on the left, from 0 m/s: the audit
report's measured curve, the exploration's curve from the target's 10-minute means and the fitted
curve below all bin by it.

``BinnedCurve`` is a turbine's expected power at its site: its model's curve, corrected per bin by
its own history. In each bin that holds at least ``min_minutes`` of the turbine's normal operation,
the median of its power minus the model's curve is the bin's correction. Between the centres of such
bins the correction is interpolated linearly, and beyond the first and the last it stays that bin's; a
turbine without any such bin is judged by its model's table alone. So a turbine with history is
judged by the curve it really shows, which a catalogue curve rarely matches to the kilowatt (air
density, site, wear). What the history is, and which samples count as normal, the caller decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.turbines import TurbineModel


def wind_bins(wind_speed, bin_width: float, *, last: int | None = None) -> np.ndarray:
    """The bin of each wind speed: ``i`` for ``[i * bin_width, (i + 1) * bin_width)`` m/s; speeds from
    bin ``last`` on fall into ``last``; -1 for a missing, non-finite or negative speed."""
    v = np.asarray(wind_speed, dtype=float)
    usable = np.isfinite(v) & (v >= 0)
    index = np.full(v.shape, -1, dtype=np.int64)
    index[usable] = (v[usable] // bin_width).astype(np.int64)
    if last is not None:
        np.minimum(index, last, out=index, where=usable)
    return index


def bin_starts(wind_speed: pd.Series, bin_width: float) -> pd.Series:
    """``wind_bins`` as each bin's lower edge in m/s (NaN outside any bin): what a table groups by."""
    index = wind_bins(wind_speed.to_numpy(dtype=float), bin_width)
    return pd.Series(np.where(index >= 0, index * bin_width, np.nan), index=wind_speed.index, name="bin_start")


def bin_label(start: float, bin_width: float, digits: int | None = None) -> str:
    """``3.0–3.5`` (``digits`` decimals) or ``3–3.5`` (``digits`` None): how tables name a bin."""
    if digits is None:
        return f"{start:g}–{start + bin_width:g}"
    return f"{start:.{digits}f}–{start + bin_width:.{digits}f}"


def mean_deviation(wind_speed, power, model: TurbineModel | None) -> float:
    """The mean of |power − the model's curve at the wind speed| (kW) over the finite pairs; NaN without
    a model or a pair."""
    v, p = np.asarray(wind_speed, dtype=float), np.asarray(power, dtype=float)
    keep = np.isfinite(v) & np.isfinite(p)
    if model is None or not keep.any():
        return float("nan")
    return float(np.mean(np.abs(p[keep] - model.power(v[keep]))))


@dataclass(frozen=True)
class BinnedCurve:
    """``model``'s curve plus ``offsets`` (kW) at the centres of bins ``bin_width`` m/s wide from 0 m/s;
    ``minutes`` is the history each bin held; a bin with less than ``min_minutes`` keeps the model's curve."""

    model: TurbineModel
    bin_width: float = 0.5
    min_minutes: float = 180.0
    offsets: tuple[float, ...] = field(default=(), repr=False)
    minutes: tuple[float, ...] = field(default=(), repr=False)

    @classmethod
    def fit(
        cls,
        model: TurbineModel,
        wind_speed,
        power,
        minutes_per_sample: float,
        *,
        bin_width: float = 0.5,
        min_minutes: float = 180.0,
    ) -> BinnedCurve:
        """The curve from ``model`` and the turbine's samples of normal operation (``wind_speed`` m/s,
        ``power`` kW, each sample standing for ``minutes_per_sample``); non-finite pairs are ignored."""
        v, p = np.asarray(wind_speed, dtype=float), np.asarray(power, dtype=float)
        bins = int(np.ceil(model.cut_out / bin_width))
        index = wind_bins(v, bin_width, last=bins - 1)
        keep = (index >= 0) & np.isfinite(p)
        v, p, index = v[keep], p[keep], index[keep]
        residual = p - model.power(v)
        offsets, minutes = np.zeros(bins), np.zeros(bins)
        for number in np.unique(index):
            inside = residual[index == number]
            minutes[number] = len(inside) * minutes_per_sample
            if minutes[number] >= min_minutes:
                offsets[number] = float(np.median(inside))
        return cls(model, bin_width, min_minutes, tuple(offsets), tuple(minutes))

    @property
    def fitted_bins(self) -> int:
        """How many bins correct the model's curve."""
        return sum(1 for minutes in self.minutes if minutes >= self.min_minutes)

    def centres(self) -> np.ndarray:
        return (np.arange(len(self.offsets)) + 0.5) * self.bin_width

    def power(self, wind_speed) -> np.ndarray:
        """Expected power (kW) at each wind speed: the model's curve plus the correction of the fitted
        bins (interpolated between their centres, the nearest one's beyond them) where the model
        produces, never below 0; 0 where the model does not produce."""
        expected = self.model.power(wind_speed)
        fitted = np.asarray(self.minutes) >= self.min_minutes
        if not fitted.any():
            return expected
        v = np.asarray(wind_speed, dtype=float)
        corrected = expected + np.interp(v, self.centres()[fitted], np.asarray(self.offsets)[fitted])
        return np.where(expected > 0, np.maximum(corrected, 0.0), expected)

    def describe(self) -> str:
        """One line: the model, and how much of the curve the turbine's own history corrects."""
        if not self.fitted_bins:
            return f"{self.model.name}: the model's curve"
        return (
            f"{self.model.name}: the model's curve corrected in {self.fitted_bins} bin(s) of "
            f"{self.bin_width:g} m/s by the turbine's own history"
        )
