"""``etl check FILE``: a SCADA export judged by the ETL's own checks, wired in one place like ``run.py``.

The file (``extract_file.read_export``) is checked with ``quality.check_day``, the function the ETL
runs, in chunks of whole UTC days (one day of 1-minute samples, ten of 10-minute ones); a chunk is
cut to the file's first and last timestamp, so a file that starts at 06:00 has no "gap" before.
With ``fit`` (the default) the file is checked twice: first with each model's curve, to find every
turbine's normal operation in the whole file, on which its expected power is fitted
(``quality.fit_curves``, method of bins); then with those curves. So the result depends on the
file, the models and the thresholds, nothing else: the same input gives the same flags. Counts per
turbine, variable and check are kept; every sample's flags can be written to a Parquet or CSV file,
chunk by chunk (a partial file is removed if anything fails). The KPIs of the file's turbines are computed
as the ETL computes a day's (``kpis.compute``), from a status log when one is given (``extract_log``), else
each minute's category inferred from the samples, and summed over the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import ConfigurationError, InputFileError
from ..core.scope import RunScope
from ..core.turbines import TurbineModel, catalogue
from ..metrics import availability
from ..metrics.kpis import COLUMNS as KPI_COLUMNS
from ..metrics.kpis import as_text, period_kpis
from ..metrics.power_curve import BinnedCurve
from . import kpis
from .extract_file import ScadaExport, models_for, read_export
from .extract_log import read_codes, read_status_log
from .quality import CHECKS, MINUTE, QualityResult, QualityThresholds, check_day, fit_curves, thresholds_from

OUTPUT_FORMATS = (".parquet", ".csv")
CHUNK_SAMPLES = 1440  # per turbine and call of check_day, about
SHOWN_NAME = 40  # characters of a turbine's name the report shows; a longer one is cut and its length said
CSV_PIECE_BYTES = 8 << 20  # of turbine names per piece of CSV written: the output's memory whatever the names


def shown(name: str) -> str:
    """A turbine's name as the report shows it: whole up to ``SHOWN_NAME`` characters, else cut, so that no
    line (and no table, whose lines are padded to its longest label) grows with the longest name."""
    return name if len(name) <= SHOWN_NAME else f"{name[: SHOWN_NAME - 10]}… ({len(name):,} characters)"


@dataclass
class FileCheck:
    """What ``check_file`` found: per turbine the ``expected`` samples (the time grid of the days checked),
    per ``(turbine, variable, check)`` the samples ``flagged``, per ``(turbine, variable)`` the ``good``
    ones; the ``curves`` the power was judged against."""

    export: ScadaExport
    models: dict[str, TurbineModel]
    thresholds: QualityThresholds
    curves: dict[str, BinnedCurve]
    days: list[dt.date]
    expected: pd.Series = field(repr=False)
    flagged: pd.Series = field(repr=False)
    good: pd.Series = field(repr=False)
    out: Path | None = None
    kpis: pd.DataFrame | None = field(default=None, repr=False)  # per turbine then the farm, over the file
    log: bool = False  # whether a status log was given

    @property
    def variables(self) -> list[str]:
        return list(self.export.samples.values.columns)

    def table(self) -> pd.DataFrame:
        """Rows ``(turbine, check)`` (every check, then ``good``: passes all), columns ``(variable,
        flagged | share)``; share of the turbine's expected samples, NaN where a check cannot flag a variable."""
        rows = {}
        for turbine in self.export.turbines:
            total = self.expected[turbine]
            for check in (*CHECKS.names, "good"):
                row = {}
                for variable in self.variables:
                    applies = check == "good" or check in CHECKS.of(variable)
                    n = (self.good if check == "good" else self.flagged).get(
                        (turbine, variable) if check == "good" else (turbine, variable, check), 0
                    )
                    row[(variable, "flagged")] = int(n) if applies else np.nan
                    row[(variable, "share")] = n / total if applies and total else np.nan
                rows[(turbine, check)] = row
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.names = ["turbine", "check"]
        table.columns = pd.MultiIndex.from_tuples(table.columns, names=["variable", "measure"])
        return table

    def report(self) -> str:
        """The text ``etl check`` prints: what was read, the duplicates, the curves, then the table."""
        export, minutes = self.export, self.export.period / MINUTE
        lines = [
            f"checked {export.path}: {export.rows:,} rows, {len(export.turbines)} turbine(s) "
            f"({', '.join(map(shown, export.turbines))}), {export.first:%Y-%m-%dT%H:%MZ} to "
            f"{export.last:%Y-%m-%dT%H:%MZ}, "
            f"sample period {minutes:g} min ({'detected' if export.period_detected else 'given'})",
        ]
        if len(export.duplicates):
            lines.append(f"duplicated timestamps: {len(export.duplicates)} (the first row of each kept)")
            for row in export.duplicates.head(10).itertuples():
                lines.append(f"  {shown(row.turbine)}  {row.timestamp.isoformat()}  {row.rows} rows")
            if len(export.duplicates) > 10:
                lines.append(f"  ... and {len(export.duplicates) - 10} more")
        for turbine in export.turbines:
            curve = self.curves.get(turbine)
            lines.append(
                f"expected power of {shown(turbine)}: {curve.describe() if curve else self.models[turbine].name}"
            )
        table = self.table()
        names = table.index.levels[0].map(shown)  # the turbines, each once
        text = pd.DataFrame(index=table.index.set_levels(names, level="turbine", verify_integrity=False))
        for variable in self.variables:
            flagged, share = table[(variable, "flagged")], table[(variable, "share")]
            text[variable] = ["" if np.isnan(n) else f"{int(n):,} ({s:.2%})" for n, s in zip(flagged, share)]
        lines.append(f"samples per turbine: {', '.join(f'{shown(t)} {n:,}' for t, n in self.expected.items())}")
        lines.append(text.to_string())
        if self.out is not None:
            lines.append(f"every sample's flags: {self.out}")
        if self.kpis is not None:
            source = "the status log given" if self.log else "the samples (no status log given: categories inferred)"
            lines.append(f"what the turbines did over the file (each minute's category from {source}; docs/kpis.md):")
            lines.append(as_text(self.kpis.assign(turbine=self.kpis["turbine"].map(shown))))
        return "\n".join(lines)


def flag_rows(result: QualityResult) -> pd.DataFrame:
    """One row per turbine and timestamp of ``result``: ``turbine, timestamp``, the values, the expected
    power, one boolean column ``<variable>.<check>`` per check that can flag the variable, and
    ``<variable>.good``. ``turbine`` is categorical (each name held once, whatever its length), the
    rows in name order, then time."""
    grid = result.grid.stack("turbine", future_stack=True)  # index (timestamp, turbine), columns variables
    flags = result.flags.stack("turbine", future_stack=True)  # columns (variable, check)
    good = result.good().stack("turbine", future_stack=True)
    columns: dict[str, pd.Series] = {v: grid[v] for v in result.variables}
    if result.expected is not None:
        columns["expected_power"] = result.expected.stack(future_stack=True).reindex(grid.index)
    for variable in result.variables:
        for check in CHECKS.of(variable):
            columns[f"{variable}.{check}"] = flags[(variable, check)]
        columns[f"{variable}.good"] = good[variable]
    rows = pd.DataFrame(columns)
    index = rows.index  # (timestamp, turbine); its turbine level as codes: no name copied per row
    turbine = pd.Categorical.from_codes(index.codes[1], categories=index.levels[1]).set_categories(
        sorted(result.turbines)
    )
    rows = rows.reset_index(drop=True)
    rows.insert(0, "timestamp", index.get_level_values(0))
    rows.insert(0, "turbine", turbine)
    return rows.sort_values(["turbine", "timestamp"], kind="stable")


class FlagWriter:
    """Writes ``flag_rows`` frames one after another to ``path`` (.parquet or .csv) through a partial
    file that becomes ``path`` on ``close``; ``discard`` removes it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in OUTPUT_FORMATS:
            raise InputFileError(
                self.path,
                f"its suffix {self.path.suffix or '(none)'!r} is not one of {', '.join(OUTPUT_FORMATS)}",
                "Name the output file .parquet or .csv.",
            )
        if not self.path.parent.is_dir():
            raise InputFileError(
                self.path, f"its folder {self.path.parent} does not exist", "Create it, or pick another."
            )
        self.partial = self.path.with_name(f".{self.path.name}.partial")
        self._parquet = None
        self._rows = 0

    def write(self, rows: pd.DataFrame) -> None:
        try:
            if self.path.suffix.lower() == ".csv":  # each row spells its turbine out: in pieces of bounded size
                longest = max((len(name) for name in rows["turbine"].cat.categories), default=0)
                step = max(1, CSV_PIECE_BYTES // max(longest, 1))
                for first in range(0, len(rows), step):
                    rows.iloc[first : first + step].to_csv(
                        self.partial,
                        mode="a" if self._rows or first else "w",
                        header=not (self._rows or first),
                        index=False,
                    )
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(rows, preserve_index=False)
                if self._parquet is None:
                    self._parquet = pq.ParquetWriter(self.partial, table.schema)
                self._parquet.write_table(table.cast(self._parquet.schema))
        except OSError as exc:
            raise InputFileError(
                self.path, f"it cannot be written ({exc})", "Check the folder's space and permissions."
            ) from None
        self._rows += len(rows)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        self.partial.replace(self.path)

    def discard(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        self.partial.unlink(missing_ok=True)


def _chunks(export: ScadaExport) -> Iterator[tuple[RunScope, pd.DataFrame, pd.DataFrame]]:
    """The file in chunks of whole UTC days of about 1,440 samples per turbine (a day at 1 minute, ten
    days at 10 minutes: ``check_day`` costs per call more than per sample), each with its scope cut to
    the file's first and last sample."""
    values, non_finite = export.samples.values, export.samples.non_finite
    days_per_chunk = max(1, int(CHUNK_SAMPLES * export.period / dt.timedelta(days=1)))
    first, end = export.first, export.last + pd.Timedelta(export.period)
    first_day = first.floor("D")
    chunk_of = (values.index.get_level_values("timestamp").floor("D") - first_day).days // days_per_chunk
    for chunk, rows in sorted(pd.Series(np.arange(len(values))).groupby(chunk_of.to_numpy()).indices.items()):
        start = first_day + pd.Timedelta(days=int(chunk) * days_per_chunk)
        stop = start + pd.Timedelta(days=days_per_chunk)
        scope = RunScope(
            start.date(), max(start, first).to_pydatetime(), min(stop, end).to_pydatetime(), tuple(export.turbines)
        )
        yield scope, values.iloc[rows], non_finite.iloc[rows]


def check_export(
    export: ScadaExport,
    models: Mapping[str, TurbineModel],
    thresholds: QualityThresholds | dict | None = None,
    *,
    fit: bool = True,
    out: Path | str | None = None,
    events: pd.DataFrame | None = None,
) -> FileCheck:
    """Check every day of ``export`` with ``check_day`` (twice with ``fit``: see the module), counting
    the flags, write every sample's flags to ``out`` when given, and compute the KPIs (each minute's category
    from ``events``, a status log, where it covers it)."""
    t = thresholds_from(thresholds)
    models = dict(models)
    writer = FlagWriter(out) if out is not None else None

    def checked(curves: Mapping[str, BinnedCurve] | None) -> Iterator[tuple[QualityResult, pd.DataFrame]]:
        for scope, values, non_finite in _chunks(export):
            grid = pd.date_range(scope.start, scope.end, freq=export.period, inclusive="left", name="timestamp")
            logged = kpis.log_codes(grid, export.turbines, events)
            result = check_day(
                values,
                non_finite,
                scope,
                models,
                t,
                period=export.period,
                curves=curves,
                explained=availability.explained(logged),
            )
            yield result, logged

    curves = fit_curves((result for result, _ in checked(None)), models, t) if fit else {}
    totals: list[pd.Series] = []
    days: list[pd.DataFrame] = []
    try:
        for result, logged in checked(curves):
            day = kpis.compute(
                result, logged.reindex(result.grid.index, fill_value=-1), models, {}, log=events is not None
            )
            days.append(day.table.reset_index().assign(day=result.grid.index[0].date()))
            chunk = (pd.Series(len(result.grid), index=result.turbines), result.flags.sum(), result.good().sum())
            totals = [total.add(part, fill_value=0) for total, part in zip(totals, chunk)] if totals else list(chunk)
            if writer is not None:
                writer.write(flag_rows(result))
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    if writer is not None:
        writer.close()
    expected, flagged, good = (total.astype("int64") for total in totals)
    rows = pd.concat(days, ignore_index=True).assign(day=export.first.date())  # the whole file: one period
    table = pd.concat([period_kpis(rows), period_kpis(rows, total=True)], ignore_index=True)
    table = table[[c for c in KPI_COLUMNS if c not in ("period", "days")]]
    file_days = sorted(set(export.samples.values.index.get_level_values("timestamp").floor("D").date))
    return FileCheck(
        export,
        models,
        t,
        curves,
        file_days,
        expected,
        flagged,
        good,
        None if out is None else Path(out),
        kpis=table,
        log=events is not None,
    )


def parse_pairs(text: str | None, option: str) -> dict[str, str]:
    """``a=b,c=d`` (the form of --columns and --thresholds) as a mapping; a malformed pair is an error."""
    pairs: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, equals, value = part.partition("=")
        if not equals or not name.strip() or not value.strip():
            raise ConfigurationError(
                f"{option} {text!r}: {part.strip()!r} is not of the form name=value.",
                f"Write {option} 'name=value,name=value'.",
                setting=option,
            )
        pairs[name.strip()] = value.strip()
    return pairs


def parse_period(text: str | None) -> dt.timedelta | None:
    """``10min``, ``1min``, ``30s`` ... as a timedelta (None: detect it)."""
    if text is None:
        return None
    try:
        period = pd.Timedelta(text).to_pytimedelta()
    except ValueError:
        period = None
    if period is None or period <= dt.timedelta(0):
        raise ConfigurationError(
            f"--period {text!r} is not a positive duration.", "Write e.g. --period 10min or 1min.", setting="period"
        )
    return period


def check_file(
    path: Path | str,
    models: str | None,
    *,
    columns: str | Mapping[str, str] | None = None,
    thresholds: str | dict | None = None,
    period: str | dt.timedelta | None = None,
    fit: bool = True,
    out: Path | str | None = None,
    events: Path | str | None = None,
    codes: Path | str | None = None,
) -> FileCheck:
    """``etl check``: read the export at ``path`` (``columns`` maps our names to its own, as a mapping or
    ``ours=theirs,...``), give each turbine its model (``models``: see ``extract_file.models_for``),
    and check it with the ETL's checks (``thresholds`` overrides, as a mapping or ``name=value,...``)."""
    if isinstance(thresholds, str):
        thresholds = parse_pairs(thresholds, "--thresholds")
    t = thresholds_from(thresholds)  # a bad override fails before the file is read
    if out is not None:
        FlagWriter(out)  # a bad output path too
    if not models:
        raise ConfigurationError(
            "etl check needs each turbine's model to judge its power.",
            f"Give --models with a catalogue name ({', '.join(catalogue())}) or a curve table (CSV wind_speed,power) "
            "for every turbine, or a CSV file `turbine,model` with one line per turbine.",
            setting="models",
        )
    mapping = parse_pairs(columns, "--columns") if isinstance(columns, str) or columns is None else dict(columns)
    export = read_export(path, mapping, parse_period(period) if isinstance(period, str) else period)
    log = None
    if events is not None:
        log = read_status_log(events, list(export.turbines), read_codes(codes) if codes is not None else None)
    elif codes is not None:
        raise ConfigurationError(
            "--codes maps a status log's codes to categories, and no --events was given.",
            "Give the status log with --events FILE, or leave --codes out.",
            setting="codes",
        )
    return check_export(export, models_for(models, export.turbines), t, fit=fit, out=out, events=log)
