"""A turbine's expected power at its site: its model's curve, corrected per wind-speed bin by its own history.

The method of bins (IEC 61400-12-1): wind speeds fall into bins of ``bin_width`` m/s; in each bin
that holds at least ``min_minutes`` of the turbine's normal operation, the median of its power
minus the model's curve is the bin's correction. Between the centres of such bins the correction is
interpolated linearly, and beyond the first and the last it stays that bin's; a turbine without
any such bin is judged by its model's table alone. So a turbine with history is judged by the curve
it really shows, which a catalogue curve rarely matches to the kilowatt (air density, site, wear).
Pure NumPy, no pandas: what the history is, and which samples count as normal, the caller decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .turbines import TurbineModel


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
        keep = np.isfinite(v) & np.isfinite(p) & (v >= 0)
        v, p = v[keep], p[keep]
        bins = int(np.ceil(model.cut_out / bin_width))
        index = np.minimum((v // bin_width).astype(int), bins - 1)
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
