"""Extract from a file: a SCADA export (CSV or Parquet) as the same ``Samples`` the API's answer gives.

The industry's exports: one row per turbine and timestamp, columns ``turbine, timestamp,
wind_speed, power`` and optionally ``ambient_temperature`` (other names mapped by the caller), at
1 or 10 minutes or another period. Timestamps with an offset are converted to UTC, those without
one are taken as UTC. A timestamp that appears twice for a turbine (a local-time export across a
clock change) is reported and its first row kept. What the file cannot give is refused with the
file, the row and the fix named (``InputFileError``); nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.contract import SOURCE_VARIABLES
from ..core.errors import InputFileError
from ..core.turbines import TurbineModel, catalogue, resolve_model
from .samples import Samples

KEY_COLUMNS: tuple[str, ...] = ("turbine", "timestamp")
REQUIRED: tuple[str, ...] = (*KEY_COLUMNS, "wind_speed", "power")
COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, *SOURCE_VARIABLES)
FORMATS = {".csv": "CSV", ".parquet": "Parquet", ".pq": "Parquet"}
# The instants the checks can compute with (pandas' nanosecond time, with a day's margin at each end for
# the day's grid and the period after the last sample): what lies outside is refused, row named.
# A turbine's name may be this long at most: a longer one is not a name (the table of `etl check`, the
# flags it writes and the memory it takes must not grow with one). The ETL's databases hold 64.
MAX_NAME = 256
FIRST_INSTANT = pd.Timestamp("1678-01-01", tz="UTC")
END_INSTANT = pd.Timestamp("2262-01-01", tz="UTC")


@dataclass
class ScadaExport:
    """A file's samples (indexed ``(turbine, timestamp)``, UTC, unique), the sample ``period`` (given or
    detected), the ``duplicates`` dropped (``turbine, timestamp, rows``: how many rows had that pair;
    the first was kept) and the ``rows`` the file held."""

    path: Path
    samples: Samples
    period: dt.timedelta
    period_detected: bool
    rows: int
    duplicates: pd.DataFrame = field(repr=False)

    @cached_property
    def turbines(self) -> list[str]:
        return list(dict.fromkeys(self.samples.values.index.get_level_values("turbine")))

    @property
    def first(self) -> pd.Timestamp:
        return self.samples.values.index.get_level_values("timestamp").min()

    @property
    def last(self) -> pd.Timestamp:
        return self.samples.values.index.get_level_values("timestamp").max()


def _read_table(path: Path, wanted: list[str] | None) -> pd.DataFrame:
    """The columns ``wanted`` of a CSV or Parquet file (``None``: no rows, only the header's columns)."""
    csv = FORMATS[path.suffix.lower()] == "CSV"
    try:
        if wanted is None:
            if csv:
                return pd.read_csv(path, nrows=0, skipinitialspace=True)
            import pyarrow.parquet as pq

            return pd.DataFrame(columns=pq.read_schema(path).names)
        if csv:
            return pd.read_csv(path, usecols=wanted, dtype={wanted[0]: str}, skipinitialspace=True)
        return pd.read_parquet(path, columns=wanted)
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # pandas' and pyarrow's parse errors are ValueErrors
        raise InputFileError(
            path,
            f"it cannot be read as {'CSV' if csv else 'Parquet'} ({exc})",
            "Export the data again as plain CSV (comma-separated, a header line) or Parquet.",
        ) from None


def _timestamps(path: Path, column: pd.Series, name: str) -> pd.DatetimeIndex:
    """UTC instants from a datetime column (naive = UTC) or ISO 8601 text (with or without offsets)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(column.dt.tz_convert("UTC"))
    if column.dtype.kind == "M":
        return pd.DatetimeIndex(column.dt.tz_localize("UTC"))
    text = column.astype("string")
    if text.isna().any():
        row = int(np.flatnonzero(text.isna().to_numpy())[0]) + 1
        raise InputFileError(path, f"the timestamp ('{name}') is empty", "Give every row its timestamp.", row=row)
    try:
        return pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601"))
    except (ValueError, TypeError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        for number, value in enumerate(text, start=1):
            try:
                pd.to_datetime(value, utc=True, format="ISO8601")
            except (ValueError, TypeError, OverflowError):
                raise InputFileError(
                    path,
                    f"the timestamp ({name!r}) {value!r} is not an ISO 8601 instant",
                    "Write timestamps like 2024-03-31T02:00:00+01:00 (an offset is converted to UTC; none means UTC).",
                    row=number,
                ) from None
        raise


def _representable(path: Path, stamps: pd.DatetimeIndex, column: pd.Series, name: str) -> pd.DatetimeIndex:
    """``stamps`` if every one lies where the checks can compute (``FIRST_INSTANT`` to ``END_INSTANT``);
    otherwise the first row that does not is refused (9999-12-31 is an ISO instant, but no sample's)."""
    outside = (stamps < FIRST_INSTANT) | (stamps >= END_INSTANT)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise InputFileError(
            path,
            f"the timestamp ({name!r}) {column.iloc[row]!s} lies outside the instants the checks can represent "
            f"({FIRST_INSTANT:%Y-%m-%d} to {END_INSTANT:%Y-%m-%d} UTC)",
            "Correct or remove that row: a sample's time must be a real instant of its measurement.",
            row=row + 1,
        )
    return stamps


def _numbers(path: Path, column: pd.Series, name: str) -> np.ndarray:
    """Floats from a numeric column, or from text where empty and 'NaN' are nulls; other text is refused,
    and so is a column of another kind (true/false, dates: a column of the wrong meaning, not numbers)."""
    kind = column.dtype.kind
    if kind in "fiu":
        return column.to_numpy(dtype="float64", na_value=np.nan)
    if kind == "b":  # a CSV column of True and False only, or a boolean column of Parquet
        raise InputFileError(
            path,
            f"the column {name!r} holds true/false values, not numbers",
            f"Map {name!r} to the file's column of numbers with --columns, or export it as numbers.",
        )
    if kind != "O":
        raise InputFileError(
            path,
            f"the column {name!r} is of type {column.dtype}, not numbers",
            f"Map {name!r} to the file's column of numbers with --columns, or export it as numbers.",
        )
    numbers = pd.to_numeric(column, errors="coerce")
    wrong = numbers.isna() & column.notna() & column.astype("string").str.strip().ne("")
    if wrong.any():
        row = int(np.flatnonzero(wrong.to_numpy())[0])
        raise InputFileError(
            path,
            f"the value {column.iloc[row]!r} of {name!r} is not a number",
            "Write numbers with a dot for decimals, and leave a missing value empty.",
            row=row + 1,
        )
    return numbers.to_numpy(dtype="float64", na_value=np.nan)


def detect_period(index: pd.MultiIndex) -> dt.timedelta | None:
    """The most common step between consecutive timestamps of a turbine (None with no two samples)."""
    frame = index.to_frame(index=False)
    steps = frame.groupby("turbine", sort=False, observed=True)["timestamp"].diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    return steps.value_counts().index[0].to_pytimedelta() if len(steps) else None


def read_export(
    path: Path | str, columns: Mapping[str, str] | None = None, period: dt.timedelta | None = None
) -> ScadaExport:
    """The samples of a SCADA export. ``columns`` maps our names (``COLUMNS``) to the file's where they
    differ; ``period`` is the sample period (default: detected, the most common step)."""
    path = Path(path)
    mapping = {name: name for name in COLUMNS} | dict(columns or {})
    unknown = sorted(set(columns or {}) - set(COLUMNS))
    if unknown:
        raise InputFileError(
            path,
            f"the column mapping names {', '.join(map(repr, unknown))}, which are not ours",
            f"Map only these names to the file's columns: {', '.join(COLUMNS)}.",
        )
    if path.suffix.lower() not in FORMATS:
        raise InputFileError(
            path,
            f"its suffix {path.suffix or '(none)'!r} is not one of {', '.join(FORMATS)}",
            "Give a CSV file (.csv) or a Parquet file (.parquet).",
        )
    if not path.is_file():
        raise InputFileError(path, "it does not exist (or is not a file)", "Check the path.")
    present = list(_read_table(path, None).columns)
    missing = [name for name in REQUIRED if mapping[name] not in present]
    if missing:
        raise InputFileError(
            path,
            f"it has no column for {', '.join(missing)} (its columns are {present})",
            "Name the file's columns with --columns, e.g. --columns 'timestamp=Date and time,wind_speed=Wind speed'.",
        )
    chosen = [name for name in COLUMNS if mapping[name] in present]
    table = _read_table(path, [mapping[name] for name in chosen])
    if table.empty:
        raise InputFileError(path, "it has no rows", "Export a period with data.")
    turbines = table[mapping["turbine"]].astype("string").str.strip()
    if turbines.isna().any() or turbines.eq("").any():
        row = int(np.flatnonzero((turbines.isna() | turbines.eq("")).to_numpy())[0]) + 1
        raise InputFileError(path, "the turbine is empty", "Give every row its turbine's name.", row=row)
    too_long = turbines.str.len().gt(MAX_NAME)
    if too_long.any():
        row = int(np.flatnonzero(too_long.to_numpy())[0])
        name = turbines.iloc[row]
        raise InputFileError(
            path,
            f"the turbine's name ({mapping['turbine']!r}) is {len(name):,} characters long ({name[:20]!r}…), "
            f"more than the {MAX_NAME} a name may have",
            f"Correct that row's turbine: a name of at most {MAX_NAME} characters (the column may be the wrong one: see "
            "--columns).",
            row=row + 1,
        )
    stamps = _representable(
        path,
        _timestamps(path, table[mapping["timestamp"]], mapping["timestamp"]),
        table[mapping["timestamp"]],
        mapping["timestamp"],
    )
    variables = [name for name in SOURCE_VARIABLES if name in chosen]
    raw = pd.DataFrame({v: _numbers(path, table[mapping[v]], mapping[v]) for v in variables})
    index = pd.MultiIndex.from_arrays([turbines.to_numpy(dtype=object), stamps], names=["turbine", "timestamp"])
    twice = index.duplicated(keep=False)
    duplicates = (
        pd.DataFrame({"turbine": index.get_level_values(0), "timestamp": index.get_level_values(1)})[twice]
        .groupby(["turbine", "timestamp"], sort=True)
        .size()
        .rename("rows")
        .reset_index()
    )
    keep = ~index.duplicated(keep="first")
    raw, index = raw[keep].set_axis(index[keep]), index[keep]
    non_finite = pd.DataFrame(np.isinf(raw.to_numpy()), index=index, columns=variables)
    samples = Samples(raw.mask(non_finite).sort_index(), non_finite.sort_index())
    detected = period is None
    period = period or detect_period(samples.values.index)
    if period is None:
        raise InputFileError(
            path,
            "the sample period cannot be told from one sample per turbine",
            "Give it with --period, e.g. --period 10min.",
        )
    return ScadaExport(path, samples, period, detected, len(table), duplicates)


def models_for(spec: str, turbines: list[str]) -> dict[str, TurbineModel]:
    """Each turbine's model from ``spec``: a catalogue name or a curve table (CSV ``wind_speed,power``)
    for every turbine, or a CSV file with the columns ``turbine,model`` mapping each turbine to a
    catalogue name or a curve table (a path relative to that file); ``*`` stands for every other turbine."""
    if spec in catalogue() or not _is_model_map(Path(spec)):
        model = resolve_model(spec)
        return dict.fromkeys(turbines, model)
    path = Path(spec)
    try:
        table = pd.read_csv(path, dtype=str, comment="#", skipinitialspace=True).fillna("")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(
            path, f"it cannot be read as CSV ({exc})", "Write one line `turbine,model` per turbine."
        ) from None
    table.columns = [name.strip().lower() for name in table.columns]
    chosen: dict[str, TurbineModel] = {}
    pairs = zip(table["turbine"].str.strip(), table["model"].str.strip())
    for number, (turbine, name) in enumerate(pairs, start=1):
        if not turbine or not name:
            raise InputFileError(
                path, "a turbine or its model is empty", "Give every line a turbine and a model.", row=number
            )
        relative = path.parent / name
        chosen[turbine] = resolve_model(name if name in catalogue() or not relative.exists() else str(relative))
    missing = [turbine for turbine in turbines if turbine not in chosen and "*" not in chosen]
    if missing:
        raise InputFileError(
            path,
            f"it maps no model to the turbine(s) {', '.join(missing)} of the data",
            "Add a line `<turbine>,<model>` for each, or `*,<model>` for every other turbine.",
        )
    return {turbine: chosen.get(turbine, chosen.get("*")) for turbine in turbines}


def _is_model_map(path: Path) -> bool:
    """Whether ``path`` is a CSV file whose header names the columns ``turbine`` and ``model``."""
    try:
        with path.open(encoding="utf-8-sig") as lines:
            header = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    except (OSError, UnicodeDecodeError):
        return False
    return {"turbine", "model"} <= {name.strip().lower() for name in header.split(",")}
