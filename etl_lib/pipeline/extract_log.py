"""A status log from a file, for ``etl check --events``: the events of an export's turbines, each with its
IEC 61400-26-1 category, from the file's own category or through a mapping of codes.

The events file (CSV or Parquet) has a row per event: ``turbine``, ``start`` (or ``start_time``), ``end``
(or ``end_time``; empty while the event lasts) and ``category`` or ``code``. The codes file (CSV) maps each
code to a category: ``code,category`` (a ``description`` column may follow). Instants are ISO 8601, an
offset converted to UTC, none taken as UTC. Anything it cannot read is refused by row, with the fix.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core.categories import Category, category
from ..core.errors import InputFileError

ALIASES = {"start_time": "start", "end_time": "end"}


def _table(path: Path, what: str) -> pd.DataFrame:
    if not path.exists():
        raise InputFileError(path, f"the {what} does not exist", f"Give the path of the {what} (CSV or Parquet).")
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except Exception as exc:  # pandas and pyarrow raise many kinds for an unreadable file
        raise InputFileError(path, f"it cannot be read as a {what} ({exc})", "Give a CSV or Parquet file.") from None


def read_codes(path: Path | str) -> dict[str, Category]:
    """A code → category mapping from a CSV file ``code,category``."""
    path = Path(path)
    table = _table(path, "codes file").rename(columns=str.strip)
    missing = [name for name in ("code", "category") if name not in table.columns]
    if missing:
        raise InputFileError(path, f"it has no column(s) {', '.join(missing)}", "Give the header `code,category`.")
    codes: dict[str, Category] = {}
    for row, (code, name) in enumerate(zip(table["code"].astype(str), table["category"].astype(str)), start=1):
        try:
            codes[code.strip()] = category(name)
        except ValueError as exc:
            raise InputFileError(path, str(exc), "Name one of the categories docs/kpis.md lists.", row=row) from None
    return codes


def read_status_log(path: Path | str, turbines: list[str], codes: dict[str, Category] | None = None) -> pd.DataFrame:
    """The events of ``turbines`` in the file at ``path``: ``turbine, start_time, end_time`` (NaT while open),
    ``category``. Events of other turbines are left out."""
    path = Path(path)
    table = _table(path, "events file").rename(columns=lambda name: ALIASES.get(name.strip(), name.strip()))
    missing = [name for name in ("turbine", "start", "end") if name not in table.columns]
    if "category" not in table.columns and "code" not in table.columns:
        missing.append("category (or code)")
    if missing:
        raise InputFileError(
            path, f"it has no column(s) {', '.join(missing)}", "Give the header `turbine,start,end,category` (or code)."
        )
    events = pd.DataFrame({"turbine": table["turbine"].astype(str).str.strip()})
    for name in ("start", "end"):
        text = table[name].astype(str).str.strip().replace({"": None, "nan": None, "None": None, "NaT": None})
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        bad = parsed.isna() & text.notna() | (parsed.isna() if name == "start" else False)
        if bad.any():
            row = int(bad.to_numpy().argmax()) + 1
            raise InputFileError(
                path,
                f"{name} {table[name].iloc[row - 1]!r} is not an ISO 8601 instant",
                "Write e.g. 2024-10-01T06:00:00Z.",
                row=row,
            )
        events[f"{name}_time"] = parsed
    if "category" in table.columns:
        names = table["category"].astype(str)
        mapped = []
        for row, name in enumerate(names, start=1):
            try:
                mapped.append(category(name).value)
            except ValueError as exc:
                raise InputFileError(
                    path, str(exc), "Name one of the categories docs/kpis.md lists.", row=row
                ) from None
    else:
        if codes is None:
            raise InputFileError(
                path,
                "it gives codes, and no mapping of codes to categories was given",
                "Give --codes FILE (code,category).",
            )
        mapped = []
        for row, code in enumerate(table["code"].astype(str).str.strip(), start=1):
            if code not in codes:
                raise InputFileError(
                    path, f"code {code!r} is not in the codes file", "Add it to the codes file.", row=row
                )
            mapped.append(codes[code].value)
    events["category"] = mapped
    ends_early = events["end_time"].notna() & (events["end_time"] <= events["start_time"])
    if ends_early.any():
        row = int(ends_early.to_numpy().argmax()) + 1
        raise InputFileError(path, "an event ends before it starts", "Correct its start or end.", row=row)
    return events[events["turbine"].isin(turbines)].reset_index(drop=True)
