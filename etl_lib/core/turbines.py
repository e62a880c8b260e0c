"""Turbine models and their power curves: what a turbine should produce at a wind speed.

A model has a name, rated power, cut-in and cut-out speeds, hub height, rotor diameter and its
power curve as a table (wind speed -> kW), interpolated linearly between the points. The built-in
catalogue (``turbine_models/*.csv``) holds real commercial 2 MW-class models from the OpenEnergy
Database's turbine library as windpowerlib ships it; a user's model is a CSV file of the same form
(a manufacturer's sheet: ``wind_speed,power`` rows, optional ``# key: value`` lines above them).
Reading such a file is the only file access of ``core``; a bad table is refused with the file, the
row and the fix named.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from .errors import ConfigurationError

CATALOGUE_DIR = Path(__file__).with_name("turbine_models")
DEFAULT_CUT_OUT = 25.0  # m/s, when a table does not say (the power curves stop at or before it)
# The ``# key: value`` lines a model file may carry, and what they mean.
METADATA = {
    "name": "the model's name (default: the file name without .csv)",
    "manufacturer": "who makes it",
    "rated_power": "kW (default: the table's largest power)",
    "cut_in": "m/s (default: the first wind speed with power above 0)",
    "cut_out": f"m/s (default: {DEFAULT_CUT_OUT:g}, or the table's last wind speed if higher)",
    "hub_height": "m",
    "rotor_diameter": "m",
    "source": "where the curve comes from",
}
_NUMERIC = ("rated_power", "cut_in", "cut_out", "hub_height", "rotor_diameter")


class ModelTableError(ConfigurationError):
    """A turbine-model table (``path``) is unusable; ``row`` is its line number when one line is at fault."""

    def __init__(self, path: Path | str, problem: str, fix: str, *, row: int | None = None) -> None:
        self.path, self.row = Path(path), row
        where = f"{path}, line {row}" if row is not None else str(path)
        super().__init__(f"The turbine-model table {where}: {problem}.", fix, setting=str(path))


@dataclass(frozen=True)
class TurbineModel:
    """A turbine model with its power curve (``wind_speeds`` in m/s, ascending; ``powers`` in kW)."""

    name: str
    rated_power: float
    cut_in: float
    cut_out: float
    wind_speeds: tuple[float, ...] = field(repr=False)
    powers: tuple[float, ...] = field(repr=False)
    manufacturer: str | None = None
    hub_height: float | None = None
    rotor_diameter: float | None = None
    source: str | None = field(default=None, repr=False)

    def power(self, wind_speed) -> np.ndarray:
        """Expected power (kW) at each wind speed: the curve interpolated linearly, its last value up to
        cut-out, and 0 below cut-in, from cut-out on, and where the wind speed is not a number."""
        v = np.asarray(wind_speed, dtype=float)
        p = np.interp(v, self.wind_speeds, self.powers, left=0.0, right=self.powers[-1])
        return np.where((v >= self.cut_in) & (v < self.cut_out), p, 0.0)

    @classmethod
    def from_dict(cls, data: dict) -> TurbineModel:
        curve = data["curve"]
        return cls(
            name=data["name"],
            rated_power=float(data["rated_power"]),
            cut_in=float(data["cut_in"]),
            cut_out=float(data["cut_out"]),
            wind_speeds=tuple(float(v) for v in curve["wind_speed"]),
            powers=tuple(float(p) for p in curve["power"]),
            manufacturer=data.get("manufacturer"),
            hub_height=data.get("hub_height"),
            rotor_diameter=data.get("rotor_diameter"),
            source=data.get("source"),
        )


# Air density (IEC 61400-12-1): a power curve holds for the standard density; elsewhere the wind is
# normalised, V_n = V (ρ / ρ0)^(1/3), with ρ from the air's temperature and the site's pressure.
STANDARD_DENSITY = 1.225  # kg/m³
GAS_CONSTANT_DRY_AIR = 287.05  # J/(kg K)
SEA_LEVEL_PRESSURE = 101_325.0  # Pa


def air_density(temperature, elevation: float = 0.0) -> np.ndarray:
    """kg/m³ of dry air at ``temperature`` (°C) and the standard atmosphere's pressure at ``elevation``
    (m above sea level)."""
    pressure = SEA_LEVEL_PRESSURE * (1.0 - 2.25577e-5 * float(elevation)) ** 5.25588
    return pressure / (GAS_CONSTANT_DRY_AIR * (np.asarray(temperature, dtype=float) + 273.15))


def density_factor(temperature, elevation: float = 0.0) -> np.ndarray:
    """``(ρ / ρ0) ** (1/3)``: what a measured wind speed is multiplied by to read a standard-density
    power curve (1 where the temperature is unknown)."""
    factor = (air_density(temperature, elevation) / STANDARD_DENSITY) ** (1.0 / 3.0)
    return np.where(np.isfinite(factor), factor, 1.0)


def _number(text: str, path: Path, row: int, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ModelTableError(
            path, f"{what} {text.strip()!r} is not a number", "Write plain numbers (a dot for decimals).", row=row
        )
    return value


def read_model(path: Path | str) -> TurbineModel:
    """A model from a CSV table: a header with the columns ``wind_speed`` (m/s) and ``power`` (kW),
    one row per point, wind speeds strictly increasing, no negative power; ``# key: value`` lines
    before the header set the model's name, rated power, cut-in and cut-out speeds, hub height,
    rotor diameter, manufacturer and source (``METADATA``)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelTableError(path, f"it cannot be read ({exc})", "Give the path of a CSV text file.") from None
    metadata: dict[str, str] = {}
    body: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            key, colon, value = stripped.lstrip("#").partition(":")
            key = key.strip().lower().replace(" ", "_")
            if not colon or key not in METADATA:
                raise ModelTableError(
                    path,
                    f"{stripped!r} is not a known '# key: value' line",
                    f"Use only these keys: {', '.join(METADATA)}.",
                    row=number,
                )
            metadata[key] = value.strip()
            continue
        body.append((number, line))
    if not body:
        raise ModelTableError(path, "it has no table", "Add a header line `wind_speed,power` and one row per point.")
    header_row, header = body[0]
    columns = [name.strip().lower() for name in next(csv.reader([header]))]
    missing = [name for name in ("wind_speed", "power") if name not in columns]
    if missing:
        raise ModelTableError(
            path,
            f"the column(s) {', '.join(missing)} are missing (the header has {columns})",
            "Start the table with the header line `wind_speed,power` (m/s, kW).",
            row=header_row,
        )
    speed_at, power_at = columns.index("wind_speed"), columns.index("power")
    speeds: list[float] = []
    powers: list[float] = []
    for number, line in body[1:]:
        cells = next(csv.reader([line]))
        if len(cells) <= max(speed_at, power_at):
            raise ModelTableError(
                path,
                f"the row {line!r} has fewer cells than the header",
                "Give every row a wind speed and a power.",
                row=number,
            )
        speed = _number(cells[speed_at], path, number, "wind speed")
        power = _number(cells[power_at], path, number, "power")
        if speeds and speed <= speeds[-1]:
            raise ModelTableError(
                path,
                f"wind speed {speed:g} m/s is not above the previous row's {speeds[-1]:g} m/s",
                "Sort the rows by wind speed, one row per wind speed.",
                row=number,
            )
        if power < 0:
            raise ModelTableError(
                path,
                f"power {power:g} kW is negative",
                "Give the power the turbine delivers, 0 where it delivers none.",
                row=number,
            )
        speeds.append(speed)
        powers.append(power)
    if len(speeds) < 2 or max(powers) <= 0:
        raise ModelTableError(
            path,
            "the curve needs at least two points and some power above 0",
            "Give the manufacturer's curve, one row per wind speed.",
        )
    numbers = {key: _number(metadata[key], path, 0, key) for key in _NUMERIC if key in metadata}
    cut_in = numbers.get("cut_in", next(s for s, p in zip(speeds, powers) if p > 0))
    cut_out = numbers.get("cut_out", max(DEFAULT_CUT_OUT, speeds[-1]))
    if not 0 <= cut_in < cut_out:
        raise ModelTableError(
            path,
            f"cut-in {cut_in:g} m/s is not below cut-out {cut_out:g} m/s",
            "Correct the '# cut_in:' or '# cut_out:' line.",
        )
    return TurbineModel(
        name=metadata.get("name") or path.stem,
        rated_power=numbers.get("rated_power", max(powers)),
        cut_in=cut_in,
        cut_out=cut_out,
        wind_speeds=tuple(speeds),
        powers=tuple(powers),
        manufacturer=metadata.get("manufacturer"),
        hub_height=numbers.get("hub_height"),
        rotor_diameter=numbers.get("rotor_diameter"),
        source=metadata.get("source"),
    )


@cache
def catalogue() -> dict[str, TurbineModel]:
    """The built-in models by name."""
    models = (read_model(path) for path in sorted(CATALOGUE_DIR.glob("*.csv")))
    return {model.name: model for model in models}


def resolve_model(name_or_path: str) -> TurbineModel:
    """A catalogue model by name, or a model read from a CSV file's path."""
    if name_or_path in catalogue():
        return catalogue()[name_or_path]
    if name_or_path.lower().endswith(".csv") or Path(name_or_path).exists():
        return read_model(name_or_path)
    raise ConfigurationError(
        f"There is no turbine model {name_or_path!r} in the catalogue, and no file of that name.",
        f"Use one of {', '.join(catalogue())}, or the path of a CSV table (wind_speed,power).",
        setting="model",
    )
