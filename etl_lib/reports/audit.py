"""The audit report of one run (``notebooks/etl.ipynb``): a farm's day as tables and figures.

One contract: every helper takes the ``RunResult`` of ``run_etl`` and returns a DataFrame, a
matplotlib ``Figure`` or a ``present.Sections`` (one part per turbine); the notebook displays them.
The farm comes first (per turbine: energy, availability, quality, findings; small multiples of the
day; the farm's power curves against their models), then a section per turbine with findings; a
turbine without any is named in one line. How it reads (percentages, highlighted faults, legends
beside the plots) follows ``present``. Only the header, shown before the run, takes the notebook's
parameters instead.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from ..config.settings import PROJECT_ROOT, Settings
from ..core.categories import LOSS_GROUPS, Category
from ..core.contract import BUCKET, BUCKETS_PER_DAY, ETL_VARIABLES, UNITS, etl_signal_names
from ..core.turbines import TurbineModel
from ..metrics import availability
from ..metrics.kpis import FARM, totals, with_ratios
from ..metrics.power_curve import bin_label, bin_starts
from ..metrics.production import data_availability
from ..metrics.quality import stretches
from ..pipeline.quality import CHECKS, QualityThresholds, expected_timestamps
from ..pipeline.run import RunResult
from ..storage.query import signal_coverage
from . import kpis as kpi_report
from . import present

DECIMALS = 4
FLAG_ZORDER = 4
SMALL_MULTIPLES = 12  # turbines drawn one panel each in the overview; more: the ones with the lowest quality
NOTEBOOK = "notebooks/etl.ipynb"


def _marked_checks() -> dict[str, float]:
    """The checks drawn as markers, sizes from large to small so that overlapping flags stay visible."""
    marked = [check.name for check in CHECKS if not check.shaded]
    return {check: 70 - 60 * i / max(len(marked) - 1, 1) for i, check in enumerate(marked)}


# --- before the run: what ran, and where it reads and writes -------------------------------------------


def command(
    date,
    thresholds: dict | None = None,
    api_url: str | None = None,
    target_database_url: str | None = None,
    report_path: str | None = None,
    turbines: list[str] | str | None = None,
    farm: str | None = None,
) -> str:
    """The papermill command, from the project's root, that runs this notebook with these parameters
    (a target URL's password hidden)."""
    output = Path(report_path) if report_path else Path("runs") / f"{date}.ipynb"
    if output.is_absolute() and output.is_relative_to(PROJECT_ROOT):
        output = output.relative_to(PROJECT_ROOT)
    parts = ["papermill", NOTEBOOK, str(output), "-p", "date", str(date)]
    if farm is not None:
        parts += ["-p", "farm", str(farm)]
    if turbines:
        names = [turbines] if isinstance(turbines, str) else list(turbines)
        parts += ["-y", f"turbines: [{', '.join(names)}]"]
    if api_url:
        parts += ["-p", "api_url", api_url]
    if target_database_url:
        parts += ["-p", "target_database_url", present.shown_url(target_database_url)]
    if thresholds:
        overrides = ", ".join(f"{name}: {value!r}" for name, value in thresholds.items())
        parts += ["-y", f"thresholds: {{{overrides}}}"]
    return shlex.join(parts)


def header(
    date,
    thresholds: dict | None = None,
    api_url: str | None = None,
    target_database_url: str | None = None,
    report_path: str | None = None,
    turbines: list[str] | str | None = None,
    farm: str | None = None,
) -> present.Markdown:
    """The day and the farm (when the run names it), and the command that ran this report (shown before the run,
    so a failed run has it too)."""
    ran = command(date, thresholds, api_url, target_database_url, report_path, turbines, farm)
    where = "farm" if farm is None else f"farm {farm}"
    which = (
        f"the whole {where}"
        if not turbines
        else "the turbines " + ", ".join([turbines] if isinstance(turbines, str) else turbines)
    )
    if turbines and farm is not None:
        which += f" of {where}"
    lines = [
        f"## {date} (UTC), {which}",
        "",
        "This report is the executed notebook of (from the project's root folder):",
        "",
        "```",
        ran,
        "```",
    ]
    if not (thresholds or api_url or target_database_url or turbines):
        named = "" if farm is None else f" --farm {farm}"
        lines += ["", f"`etl run {date}{named}` runs the same. Run it again to replace the day; nothing is duplicated."]
    return present.Markdown("\n".join(lines))


def endpoints(settings: Settings) -> pd.DataFrame:
    """Where the run reads and writes: the API and the target (password hidden)."""
    where = {"API": settings.api_base_url, "target": present.shown_url(settings.target_url)}
    return present.table(pd.DataFrame({"where": where}))


# --- one turbine's share of the result ----------------------------------------------------------------


@dataclass
class TurbineDay:
    """One turbine's part of a run: its samples on the day's grid (a column per variable), its flags
    (``(variable, check)``) and good samples (a column per variable: the run's ``QualityResult.good``),
    its statistics and bucket quality (``(variable, statistic)``) and model."""

    name: str
    model: TurbineModel
    grid: pd.DataFrame
    present: pd.Series
    flags: pd.DataFrame
    good: pd.DataFrame
    statistics: pd.DataFrame
    bucket_quality: pd.DataFrame
    expected: pd.Series | None
    thresholds: QualityThresholds
    running: pd.Series | None = None  # where the turbine ran at full performance (None: no KPIs)

    @property
    def normal(self) -> pd.Series:
        """Normal operation: wind and power good, at full performance (a stop the log explains is good data,
        not normal operation)."""
        normal = self.good["power"] & self.good["wind_speed"]
        return normal & self.running if self.running is not None else normal

    def flag(self, variable: str, check: str) -> pd.Series:
        if (variable, check) in self.flags.columns:
            return self.flags[(variable, check)]
        return pd.Series(False, index=self.grid.index)

    def counts(self) -> pd.Series:
        """Samples flagged, per ``(variable, check)``, the ones with any."""
        counts = self.flags.sum()
        return counts[counts > 0]


def turbine_day(result: RunResult, name: str) -> TurbineDay:
    quality = result.quality
    model = {t.name: t.model for t in result.turbines}[name]
    own = quality.flags.xs(name, axis=1, level="turbine")
    statistics = result.statistics[name] if name in result.statistics.columns.get_level_values(0) else pd.DataFrame()
    expected = quality.expected[name] if quality.expected is not None and name in quality.expected else None
    return TurbineDay(
        name=name,
        model=model,
        grid=quality.grid[name],
        present=quality.present[name],
        flags=own,
        good=quality.good()[name],
        statistics=statistics,
        bucket_quality=result.bucket_quality[name],
        expected=expected,
        thresholds=quality.thresholds,
        running=result.kpis.full_performance[name] if result.kpis is not None else None,
    )


def findings(day: TurbineDay) -> str:
    """What the checks found, in a line: ``spike 1 (power); gap 35``."""
    counts = day.counts()
    parts = []
    for check in CHECKS.names:
        found = {variable: int(n) for (variable, c), n in counts.items() if c == check}
        if not found:
            continue
        if check == "gap":  # a missing row is missing for every variable
            parts.append(f"gap {max(found.values())}")
        else:
            parts.append(f"{check} " + ", ".join(f"{n} ({v.replace('_', ' ')})" for v, n in found.items()))
    return "; ".join(parts)


# --- the run ------------------------------------------------------------------------------------------


def run_summary(result: RunResult) -> pd.DataFrame:
    """What the run did, without wall-clock values (those are in ``timings``)."""
    values = {
        "date (UTC)": result.run_date.isoformat(),
        "turbines": f"{len(result.scope.turbines)}: {', '.join(result.scope.turbines)}",
        "samples read": result.rows_read,
        "10-minute buckets with statistics (all turbines)": result.buckets,
        "rows written": result.rows_written,
        "complete": complete_text(result),
    }
    if result.overflowed:
        values["statistics not written: not finite (overflow)"] = result.overflowed
    return present.table(pd.DataFrame({"value": pd.Series(values, dtype=object)}))


def complete_text(result: RunResult) -> str:
    """How much of the day the run covered: the whole day, or (a day not over yet in the source) up to which
    minute, its last complete 10-minute bucket."""
    if result.complete_until is None:
        return "the whole day"
    return (
        f"up to {result.complete_until:%H:%M} UTC: the day is not over in the source (its newest sample is at "
        f"{_newest(result)}); later buckets are not written yet"
    )


def _newest(result: RunResult) -> str:
    stamps = [f.get("last_timestamp") for f in (result.fingerprints or {}).values() if f.get("last_timestamp")]
    return pd.Timestamp(max(stamps)).strftime("%H:%M") if stamps else "none"


def fingerprints_table(result: RunResult) -> pd.DataFrame:
    """Per turbine: the day as the source held it when the run read it (its fingerprint, read in the samples'
    snapshot): rows, checksum, newest sample. ``etl sync`` runs the day again when they change (docs/live.md)."""
    rows = {
        turbine: {
            "rows": fingerprint["rows"],
            "checksum": fingerprint["checksum"],
            "newest sample (UTC)": pd.Timestamp(fingerprint["last_timestamp"]).strftime("%H:%M")
            if fingerprint.get("last_timestamp")
            else "",
        }
        for turbine, fingerprint in sorted((result.fingerprints or {}).items())
    }
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["rows", "checksum", "newest sample (UTC)"])
    return present.table(frame.rename_axis("turbine"))


def timings(result: RunResult) -> pd.DataFrame:
    return pd.DataFrame({"seconds": result.seconds}).round(4)


def fetched_table(result: RunResult) -> pd.DataFrame:
    """Per turbine: how many samples arrived, their span, and the nulls and non-finite values per variable."""
    values, bad = result.samples.values, result.samples.non_finite
    rows = {}
    for name in result.scope.turbines:
        own = values.xs(name, level="turbine") if name in values.index.get_level_values("turbine") else values.iloc[:0]
        stamps = own.index
        row = {
            "samples": len(own),
            "first": stamps.min().strftime("%H:%M") if len(own) else "",
            "last": stamps.max().strftime("%H:%M") if len(own) else "",
        }
        bad_own = bad.xs(name, level="turbine") if len(own) else bad.iloc[:0]
        for variable in values.columns:
            row[f"nulls {variable}"] = int(own[variable].isna().sum() - bad_own[variable].sum()) if len(own) else 0
        row["not finite"] = int(bad_own.to_numpy().sum()) if len(own) else 0
        rows[name] = row
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("turbine")
    counts = [c for c in frame.columns if c.startswith("nulls ") or c == "not finite"]
    return present.table(
        frame, warn_above=dict.fromkeys(counts, 0), warn_below={"samples": len(expected_timestamps(result.scope))}
    )


# --- what the farm did: KPIs, the loss waterfall, each turbine's categories ------------------------------

CATEGORY_COLOURS = {
    Category.FULL_PERFORMANCE: "#2ca02c",
    Category.PARTIAL_PERFORMANCE: "#98df8a",
    Category.READY_STANDBY: "#c7e9c0",
    Category.TECHNICAL_STANDBY: "#ffbb78",
    Category.OUT_OF_ENVIRONMENTAL_SPECIFICATION: "#9edae5",
    Category.REQUESTED_SHUTDOWN: "#c5b0d5",
    Category.OUT_OF_ELECTRICAL_SPECIFICATION: "#8c564b",
    Category.SCHEDULED_MAINTENANCE: "#1f77b4",
    Category.PLANNED_CORRECTIVE_ACTION: "#aec7e8",
    Category.FORCED_OUTAGE: "#d62728",
    Category.SUSPENDED: "#7f7f7f",
    Category.FORCE_MAJEURE: "#000000",
    Category.INFORMATION_UNAVAILABLE: "#f0f0f0",
}
GROUP_LABELS = {
    "forced_outage": "forced outages and faults",
    "scheduled_maintenance": "scheduled maintenance",
    "curtailment": "requested shutdown, curtailment",
    "grid": "grid",
    "environmental": "environment (cut-out, icing)",
    "performance": "performance",
    "information_unavailable": "information unavailable",
    "residual": "residual",
}


def _kpis(result: RunResult) -> pd.DataFrame:
    """The run's KPIs, a row per turbine then the farm's total, the ratios recomputed from the sums."""
    table = result.kpis.table
    farm = totals(table.reset_index().assign(farm=FARM), ["farm"])
    return pd.concat([with_ratios(table), farm])


def kpi_table(result: RunResult) -> pd.DataFrame:
    """Per turbine and for the farm: energy produced, potential and lost, time-based availability in the
    user's and the manufacturer's view, production-based availability, capacity factor, data availability,
    and the minutes whose category no log gave (``reports.kpis.table``)."""
    frame = _kpis(result)
    frame.index.name = "turbine"
    return kpi_report.table(frame)


def loss_table(result: RunResult) -> pd.DataFrame:
    """Per turbine and for the farm, the lost production of each cause that lost any (MWh): potential =
    produced + these, to the kWh."""
    kpis = _kpis(result)
    groups = [g for g in LOSS_GROUPS if kpis[f"lost_kwh_{g}"].abs().max() >= 0.5 or g == "performance"]
    frame = pd.DataFrame({GROUP_LABELS[g]: kpis[f"lost_kwh_{g}"] / 1000 for g in groups}, index=kpis.index)
    frame.index.name = "turbine"
    return present.table(
        frame.round(3),
        decimals=dict.fromkeys(frame.columns, 3),
        warn_above=dict.fromkeys([c for c in frame.columns if c != GROUP_LABELS["performance"]], 0.0005),
        caption="Lost production by cause (MWh; performance: below the curve while running, negative above it)",
    )


def loss_waterfall_figure(result: RunResult) -> Figure:
    """The farm's day from its potential energy down to what it produced: a bar per group of lost
    production (a negative loss, above the curve, goes up), the produced energy last."""
    farm = _kpis(result).loc[FARM]
    steps = [(GROUP_LABELS[g], float(farm[f"lost_kwh_{g}"]) / 1000) for g in LOSS_GROUPS]
    steps = [(label, value) for label, value in steps if abs(value) >= 0.0005]
    potential, produced = float(farm["potential_energy_kwh"]) / 1000, float(farm["energy_kwh"]) / 1000
    fig, (ax,) = present.figure(1, row_height=3.0, legend=False)
    labels = ["potential", *(label for label, _ in steps), "produced"]
    ax.bar(0, potential, color="0.6", width=0.6)
    level = potential
    for i, (_label, value) in enumerate(steps, start=1):
        ax.bar(i, -value, bottom=level, color="tab:red" if value > 0 else "tab:green", width=0.6)
        level -= value
    ax.bar(len(labels) - 1, produced, color="tab:blue", width=0.6)
    values = [potential, *(-v for _, v in steps), produced]
    tops = [
        potential,
        *(potential - sum(v for _, v in steps[: i + 1]) + max(v, 0) for i, (_, v) in enumerate(steps)),
        produced,
    ]
    for i, (value, top) in enumerate(zip(values, tops)):
        ax.annotate(
            f"{value:+,.2f}" if 0 < i < len(labels) - 1 else f"{value:,.2f}",
            (i, top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize="x-small",
        )
    ax.set_xticks(
        range(len(labels)),
        [label.replace(" ", "\n", 1) if len(label) > 14 else label for label in labels],
        fontsize="small",
    )
    ax.set_ylabel("MWh")
    # The axis starts near the produced energy, not at 0, so that losses of a few per cent show.
    lost = max(potential - produced, 0.0)
    bottom = max(0.0, min(produced, potential) - 1.5 * lost) if lost > 0 else 0.0
    ax.set_ylim(bottom, (potential + 0.12 * (potential - bottom)) if potential > 0 else 1)
    present.title(
        ax,
        f"The farm's day: potential {potential:,.2f} MWh, produced {produced:,.2f} MWh"
        + (f" (the axis starts at {bottom:,.0f} MWh)" if bottom > 0 else ""),
    )
    return fig


def category_timeline_figure(result: RunResult) -> Figure:
    """Each turbine's day in its IEC 61400-26-1 categories, minute by minute (a row per turbine); minutes
    whose category no log gave are hatched."""
    kpis = result.kpis
    codes, inferred = kpis.codes, kpis.inferred
    turbines = list(codes.columns)
    fig, (ax,) = present.figure(1, row_height=0.35 + 0.32 * len(turbines))
    start = mdates.date2num(codes.index[0])
    step = mdates.date2num(codes.index[0] + result.quality.period) - start
    shown: set[int] = set()
    for row, turbine in enumerate(turbines):
        values = codes[turbine].to_numpy()
        hatched = inferred[turbine].to_numpy()
        breaks = np.flatnonzero(np.r_[True, (values[1:] != values[:-1]) | (hatched[1:] != hatched[:-1])])
        ends = np.r_[breaks[1:], len(values)]
        for code in np.unique(values):
            for hatch in (False, True):
                runs = [
                    (start + a * step, (b - a) * step)
                    for a, b in zip(breaks, ends)
                    if values[a] == code and hatched[a] == hatch
                ]
                if runs:
                    category = availability.CODES[code]
                    ax.broken_barh(
                        runs,
                        (row - 0.4, 0.8),
                        facecolors=CATEGORY_COLOURS[category],
                        hatch="////" if hatch else None,
                        edgecolor="0.4" if hatch else "none",
                        lw=0,
                    )
                    shown.add(int(code))
    ax.set_yticks(range(len(turbines)), turbines, fontsize="x-small")
    ax.set_ylim(len(turbines) - 0.5, -0.5)
    ax.grid(False)
    ax.xaxis_date(tz=present.UTC)
    ax.set_xlim(start, start + len(codes) * step)
    present.time_axis(ax)
    handles = [
        Patch(facecolor=CATEGORY_COLOURS[c], edgecolor="0.6", lw=0.5, label=c.value.replace("_", " "))
        for c in Category
        if availability.CODE[c] in shown
    ]
    if inferred.to_numpy().any():
        handles.append(Patch(facecolor="white", edgecolor="0.4", hatch="////", label="inferred (no log)"))
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        fontsize="x-small",
        frameon=False,
    )
    present.title(ax, "Each turbine's day in the IEC 61400-26-1 categories")
    return fig


# --- the farm -----------------------------------------------------------------------------------------


def farm_table(result: RunResult) -> pd.DataFrame:
    """Per turbine: its model, data availability (the day's rows present), the share of good samples per
    variable, and what the checks found."""
    day_quality = result.quality.day_quality()
    present_rows = result.quality.present
    availability_of = data_availability(present_rows.sum(), len(present_rows))
    rows = {}
    for name in result.scope.turbines:
        day = turbine_day(result, name)
        rows[name] = {
            "model": day.model.name,
            "data availability": float(availability_of[name]),
            **{f"quality {variable}": day_quality[name][variable] for variable in result.quality.variables},
            "findings": findings(day) or "none",
        }
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("turbine")
    shares = ["data availability", *(c for c in frame.columns if c.startswith("quality "))]
    return present.table(
        frame,
        percent=shares,
        warn_below=dict.fromkeys(shares, 1.0),
        caption="The data: the share of the day's minutes with a row, the share of good samples, what the checks found",
    )


def bucket_edges(result: RunResult) -> pd.DatetimeIndex:
    """The edges of the day's 10-minute buckets, from the first start to the day's end."""
    return pd.date_range(result.scope.start, result.scope.end, freq=BUCKET)


def _by_quality(result: RunResult) -> list[str]:
    """The turbines, lowest day quality (of any variable) first."""
    lowest = {name: min(shares.values()) for name, shares in result.quality.day_quality().items()}
    return sorted(result.scope.turbines, key=lambda name: (lowest[name], name))


def farm_figure(result: RunResult) -> Figure:
    """Small multiples of the day in a grid of two columns (one for one or two turbines), a panel per
    turbine (at most ``SMALL_MULTIPLES``, the lowest quality first when the farm has more): its 1-minute power, the 10-minute mean, the samples any check
    flagged, and its rated power."""
    shown = (
        result.scope.turbines
        if len(result.scope.turbines) <= SMALL_MULTIPLES
        else _by_quality(result)[:SMALL_MULTIPLES]
    )
    columns = 1 if len(shown) <= 2 else 2  # a grid: a farm of 12 is 6 rows, not 12
    rows = -(-len(shown) // columns)
    fig, grid = present.figure(rows, columns=columns, row_height=1.15 if columns == 1 else 1.4, sharex=True)
    axes = grid[: len(shown)]
    for ax in grid[len(shown) :]:  # the grid's empty corner; the panel above it labels the time axis
        ax.set_visible(False)
        grid[list(grid).index(ax) - columns].tick_params(labelbottom=True)
    edges = bucket_edges(result)
    times = present.instants(result.quality.grid.index)
    for ax, name in zip(axes, shown):
        day = turbine_day(result, name)
        bounds = _bounds("power", day)
        power, beyond = present.drawable(day.grid["power"], bounds)
        ax.plot(times, power, color="0.65", lw=0.6, label="1-minute power", zorder=2)
        if ("power", "mean") in day.statistics.columns:
            mean = present.drawable(day.statistics[("power", "mean")].reindex(edges[:-1]), bounds)[0]
            ax.step(
                present.instants(edges),
                np.append(mean, mean[-1]),
                where="post",
                color="tab:blue",
                lw=1.1,
                label="10-minute mean",
                zorder=3,
            )
        suspect = day.flags.loc[
            :, day.flags.columns.get_level_values("check").isin([c.name for c in CHECKS if not c.shaded])
        ]
        flagged = suspect.any(axis=1).to_numpy()
        if flagged.any():
            ax.plot(
                times[flagged],
                power[flagged],
                "o",
                ms=2.5,
                color="tab:red",
                label="flagged",
                zorder=FLAG_ZORDER,
            )
        present.mark_beyond(ax, times, day.grid["power"], beyond, bounds, UNITS["power"])
        missing = ~day.present.to_numpy()
        if missing.any():
            ax.fill_between(
                times,
                0,
                1,
                where=missing,
                transform=ax.get_xaxis_transform(),
                color="tab:gray",
                alpha=0.25,
                lw=0,
                step="mid",
                label="no row (gap)",
            )
        ax.axhline(day.model.rated_power, **present.LEVEL_STYLES["rated"], label="rated power")
        share = min(result.quality.day_quality()[name].values())
        present.title(ax, f"{name} ({day.model.name}): quality {share:.1%}")
        ax.set_ylabel("kW", fontsize="small")
    present.one_legend(axes, beside=columns - 1)
    for ax in axes:  # one day on each: the same ticks
        ax.set_xlim(present.instants([result.scope.start, result.scope.end]))
        present.time_axis(ax, most=10 if columns == 1 else 6)
    return fig


def quality_heatmap_figure(result: RunResult) -> Figure:
    """Bucket by bucket, each turbine's quality (the lowest of the ETL's variables; 0 red … 1 green)."""
    import matplotlib.dates as mdates

    quality = result.bucket_quality.xs("quality", axis=1, level="statistic")
    lowest = quality.T.groupby(level="turbine", sort=False).min().T[list(result.scope.turbines)]
    fig, (ax,) = present.figure(1, row_height=0.3 + 0.22 * len(lowest.columns))
    start = mdates.date2num(lowest.index[0])
    end = mdates.date2num(lowest.index[-1] + BUCKET)
    image = ax.imshow(
        lowest.T.to_numpy(),
        aspect="auto",
        cmap="RdYlGn",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(start, end, len(lowest.columns) - 0.5, -0.5),
    )
    ax.grid(False)
    ax.set_yticks(range(len(lowest.columns)), list(lowest.columns), fontsize="x-small")
    ax.xaxis_date(tz=present.UTC)
    present.time_axis(ax)
    present.title(ax, "10-minute quality per turbine (share of the 10 samples that are good; the lower variable)")
    colorbar = fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03, format=PercentFormatter(1.0))
    colorbar.ax.tick_params(labelsize="x-small")
    return fig


def farm_power_curve_figure(result: RunResult) -> Figure:
    """Wind speed against power, every turbine: the good samples of each model, the flagged ones by
    check over them, and each model's power curve."""
    quality = result.quality
    fig, (ax,) = present.figure(1, width=9.8, row_height=4.4)
    models = {t.model.name: t.model for t in result.turbines}
    by_model = {name: [t.name for t in result.turbines if t.model.name == name] for name in models}
    colors = ["0.55", "tab:olive", "tab:brown", "tab:gray", "tab:cyan"]
    ranges = quality.thresholds.ranges(max(model.rated_power for model in models.values()))
    wind_bounds, power_bounds = (present.axis_bounds(*ranges[v]) for v in ("wind_speed", "power"))

    def drawn(turbines: list[str], rows=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Wind speed and power of ``turbines`` as drawn (see ``present.drawable``), and which lie beyond."""
        wind, power = (quality.grid.loc[:, [(t, v) for t in turbines]].to_numpy() for v in ("wind_speed", "power"))
        wind, power = (values.ravel() if rows is None else values[rows] for values in (wind, power))
        (wind, wind_beyond), (power, power_beyond) = (
            present.drawable(wind, wind_bounds),
            present.drawable(power, power_bounds),
        )
        return wind, power, wind_beyond | power_beyond

    beyond_axes = 0
    top = 0.0
    for (name, turbines), color in zip(by_model.items(), colors * 3):
        wind, power, beyond = drawn(turbines)
        beyond_axes += int(beyond.sum())
        good = quality.good().loc[:, [(t, "power") for t in turbines]].to_numpy().ravel()
        if result.kpis is not None:  # normal operation: not a stop or a restriction the log explains
            # not in place: to_numpy() may hand out the frame's own (read-only) data
            good = good & result.kpis.full_performance[turbines].to_numpy().ravel()
        ax.plot(
            wind[good],
            power[good],
            ".",
            ms=1.5,
            color=color,
            alpha=0.5,
            rasterized=True,
            label=f"normal operation, {name}",
        )
        top = max(top, float(np.nanmax(wind)) if np.isfinite(wind).any() else 0.0)
    for check, size in _marked_checks().items():
        columns = [c for c in quality.flags.columns if c[2] == check]
        if not columns:
            continue
        flagged = quality.flags[columns].T.groupby(level="turbine").any().T
        if not flagged.to_numpy().any():
            continue
        wind, power, _ = drawn(list(flagged.columns), flagged.to_numpy())
        ax.plot(
            wind,
            power,
            "o",
            ms=np.sqrt(size) * 0.8,
            color=CHECKS[check].colour,
            zorder=FLAG_ZORDER,
            label=f"{check} ({int(flagged.to_numpy().sum())})",
        )
    if beyond_axes:
        ax.plot([], [], ls="none", label=f"beyond the axes ({beyond_axes}): at their edge")
    top = max([top, *(m.cut_out for m in models.values())]) + 1
    speeds = np.linspace(0, top, 400)
    for (name, model), style in zip(models.items(), ["-", "--", "-.", ":"] * 3):
        ax.plot(speeds, model.power(speeds), color="tab:blue", lw=1.4, ls=style, label=f"curve {name}", zorder=3)
    ax.set_xlim(0, top)
    ax.set_xlabel(f"wind speed ({UNITS['wind_speed']})")
    ax.set_ylabel(f"power ({UNITS['power']})")
    present.title(ax, "The farm's power curves (1-minute samples) against their models")
    present.legend_outside(ax)
    return fig


def checks_table(result: RunResult) -> pd.DataFrame:
    """Per check: what it looks for, its threshold, the samples it flagged in the farm per variable, and
    the turbines it flagged."""
    quality = result.quality
    counts = quality.flags.sum()
    described = quality.thresholds.describe()
    rows = {}
    for entry in CHECKS:
        check = entry.name
        row = {"looks for": entry.description, "threshold": described.get(check, "")}
        for variable in quality.variables:
            row[variable] = int(sum(n for (t, v, c), n in counts.items() if v == variable and c == check))
        flagged = sorted({t for (t, v, c), n in counts.items() if c == check and n > 0})
        row["turbines"] = ", ".join(flagged[:6]) + (f" and {len(flagged) - 6} more" if len(flagged) > 6 else "")
        rows[check] = row
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("check")
    return present.table(table, warn_above=dict.fromkeys(quality.variables, 0))


# --- a section per turbine with findings ----------------------------------------------------------------


def flagged_stretches(day: TurbineDay) -> pd.DataFrame:
    """Every stretch of consecutive samples one check flagged: variable, check, from, to, samples."""
    rows = []
    for (variable, check), flags in day.flags.items():
        for first, last, samples in stretches(flags):
            rows.append(
                {
                    "variable": variable,
                    "check": check,
                    "from": first.strftime("%H:%M"),
                    "to": last.strftime("%H:%M"),
                    "samples": samples,
                }
            )
    columns = ["variable", "check", "from", "to", "samples"]
    table = pd.DataFrame(rows, columns=columns).sort_values(["from", "variable", "check"], ignore_index=True)
    return present.table(
        table.astype({"samples": int}),
        index=False,
        empty="No check flagged any sample.",
        caption="Where the flags are (UTC)",
    )


PERFECT_DAY = "Every bucket of the day has quality 1: all ten samples present and good, for each variable."


def imperfect_buckets(day: TurbineDay) -> pd.Index:
    quality = day.bucket_quality.xs("quality", axis=1, level="statistic")
    return quality.index[(quality < 1).any(axis=1)]


def statistics_table(day: TurbineDay) -> pd.DataFrame:
    """The 10-minute statistics of the turbine's buckets below quality 1, each variable with its count and
    quality: where the statistics deserve a second look."""
    joined = day.statistics.join(day.bucket_quality, how="outer") if not day.statistics.empty else day.bucket_quality
    joined = joined[[c for variable in ETL_VARIABLES for c in joined.columns if c[0] == variable]]
    frame = present.rounded(joined.reindex(imperfect_buckets(day)), DECIMALS)
    frame.index = frame.index.strftime("%H:%M")
    frame.index.name = "bucket (UTC)"
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["variable", "statistic"])
    frame = frame.astype({c: "Int64" for c in frame.columns if c[1] == "count"})
    shares = [c for c in frame.columns if c[1] == "quality"]
    return present.table(
        frame,
        percent=shares,
        warn_below=dict.fromkeys(shares, 1.0),
        empty=PERFECT_DAY,
        caption="The buckets below quality 1: statistics, samples (count) and quality",
    )


def power_curve_table(day: TurbineDay, bin_width: float = 2.0) -> pd.DataFrame:
    """The turbine's measured power curve in wind-speed bins: samples, samples of normal operation (good, at
    full performance), the mean power of all of them and of the normal ones, its model's curve at their wind
    speeds, and the samples a power-curve check flagged."""
    wind, power = day.grid["wind_speed"], day.grid["power"]
    good = day.normal
    expected = pd.Series(day.model.power(wind.to_numpy()), index=wind.index).where(wind.notna())
    power_checks = [c.name for c in CHECKS if c.judges_curve and ("power", c.name) in day.flags.columns]
    flagged = day.flags.loc[:, [("power", c) for c in power_checks]].any(axis=1) if power_checks else good & False
    groups = bin_starts(wind, bin_width)

    def per_bin(series: pd.Series, how: str) -> pd.Series:
        return getattr(series.groupby(groups), how)()

    table = pd.DataFrame(
        {
            "samples": per_bin(power, "count"),
            "normal operation": per_bin(good, "sum").astype(int),
            "mean power (all)": per_bin(power, "mean"),
            "mean power (normal)": per_bin(power.where(good), "mean"),
            f"curve {day.model.name}": per_bin(expected, "mean"),
            "flagged by a power-curve check": per_bin(flagged, "sum").astype(int),
        }
    )
    table.index = [bin_label(start, bin_width) for start in table.index]
    table.index.name = "wind (m/s)"
    table = present.rounded(table[table["samples"] > 0], 1)
    return present.table(
        table,
        decimals={c: 1 for c in table.columns if "power" in c or "curve" in c},
        warn_above={"flagged by a power-curve check": 0},
        caption="Measured power curve",
    )


def _levels(variable: str, day: TurbineDay) -> dict[str, tuple[str, list[float]]]:
    """The reference levels of a plot of ``variable``: rated power, the range check's limits."""
    unit = UNITS.get(variable, "")
    levels = {}
    if variable == "power":
        levels[f"rated power ({day.model.rated_power:g} {unit})"] = ("rated", [day.model.rated_power])
    ranges = day.thresholds.ranges(day.model.rated_power)
    if variable in ranges:
        lower, upper = ranges[variable]
        levels[f"range check: {lower:g} to {upper:g} {unit}"] = ("limit", [lower, upper])
    return levels


def _bounds(variable: str, day: TurbineDay) -> tuple[float, float]:
    """How far a plot of ``variable`` reaches: a span beyond the range check's limits (``present.axis_bounds``)."""
    lower, upper = day.thresholds.ranges(day.model.rated_power)[variable]
    return present.axis_bounds(lower, upper)


def day_figure(day: TurbineDay, edges: pd.DatetimeIndex) -> Figure:
    """The turbine's day, a panel per variable with findings (or power and wind speed when it has none):
    the 1-minute samples, for the ETL's variables the 10-minute mean with its min–max band, every check's
    flagged samples over them, gaps and nulls shaded, rated power and the range limits near the data."""
    flagged = list(dict.fromkeys(v for v, _ in day.counts().index))
    variables = [v for v in day.grid.columns if v in flagged] or [v for v in ETL_VARIABLES if v in day.grid.columns]
    fig, axes = present.figure(len(variables), row_height=2.0, sharex=True)
    times = present.instants(day.grid.index)
    for ax, variable in zip(axes, variables):
        bounds = _bounds(variable, day)
        data, beyond = present.drawable(day.grid[variable], bounds)
        ax.plot(times, data, color="0.6", lw=0.7, label="1-minute samples", zorder=2)
        if variable in day.statistics.columns.get_level_values(0):
            stats = day.statistics[variable].reindex(edges[:-1])
            drawn = {s: present.drawable(stats[s], bounds)[0] for s in ("mean", "min", "max")}
            stepped = {s: np.append(values, values[-1]) for s, values in drawn.items()}
            x = present.instants(edges)
            ax.fill_between(
                x,
                stepped["min"],
                stepped["max"],
                step="post",
                color="tab:blue",
                alpha=0.15,
                lw=0,
                label="10-min min–max",
                zorder=1,
            )
            ax.step(x, stepped["mean"], where="post", color="tab:blue", lw=1.2, label="10-min mean", zorder=3)
        gaps = (day.flag(variable, "gap") | day.flag(variable, "null")).to_numpy()
        if gaps.any():
            ax.fill_between(
                times,
                0,
                1,
                where=gaps,
                transform=ax.get_xaxis_transform(),
                color=CHECKS["gap"].colour,
                alpha=0.25,
                step="mid",
                lw=0,
                label=f"gap / null ({int(gaps.sum())})",
            )
        for check, size in _marked_checks().items():
            flags = day.flag(variable, check).to_numpy()
            if flags.any():
                ax.plot(
                    times[flags],
                    data[flags],
                    "o",
                    ms=np.sqrt(size) * 0.8,
                    color=CHECKS[check].colour,
                    zorder=FLAG_ZORDER,
                    label=f"{check} ({int(flags.sum())})",
                )
        levels = _levels(variable, day)
        crossed = [
            label for label, (style, _) in levels.items() if style == "limit" and day.flag(variable, "range").any()
        ]
        present.limit_lines(ax, levels, data, always=crossed)
        present.mark_beyond(ax, times, day.grid[variable], beyond, bounds, UNITS.get(variable, ""))
        present.title(ax, f"{day.name} {variable.replace('_', ' ')}")
        ax.set_ylabel(UNITS.get(variable, ""))
        present.legend_outside(ax)
    axes[-1].set_xlim(present.instants([edges[0], edges[-1]]))
    present.time_axis(axes[-1])
    present.same_x(axes)
    return fig


def turbine_sections(result: RunResult) -> present.Sections:
    """A section per turbine with findings, the lowest quality first (the first one open, the others
    folded): what the checks found, where, its day (drawn for the first ``SMALL_MULTIPLES``), its buckets
    below quality 1 and its power curve against its model. The turbines without findings are named in
    one last line."""
    edges = bucket_edges(result)
    sections, clean = [], []
    for name in _by_quality(result):
        day = turbine_day(result, name)
        found = findings(day)
        if not found:
            clean.append(name)
            continue
        shares = ", ".join(f"{v.replace('_', ' ')} {s:.1%}" for v, s in result.quality.day_quality()[name].items())
        if len(sections) < SMALL_MULTIPLES:
            drawn = day_figure(day, edges)
        else:  # a report stays readable and small with hundreds of turbines
            drawn = present.Markdown(
                f"(Its day is drawn for the {SMALL_MULTIPLES} turbines of lowest quality only: "
                f"`etl run {result.run_date} --turbines {name}` draws it.)"
            )
        items = [flagged_stretches(day), drawn, statistics_table(day), power_curve_table(day)]
        sections.append(
            present.Section(f"{name} ({day.model.name})", f"quality {shares}; {found}", items, folded=bool(sections))
        )
    if clean:
        sections.append(
            present.Section("Without findings", f"{', '.join(clean)}: every sample present and good", folded=False)
        )
    return present.Sections(sections, empty="No turbine.")


# --- what the target holds ----------------------------------------------------------------------------


def written_table(result: RunResult, settings: Settings) -> pd.DataFrame:
    """Per turbine, what the target holds for the run's day now, counted by the target: signals with
    values, rows, first and last bucket, and the day's mean of its mean wind speed and power."""
    coverage = signal_coverage(result.scope.start, result.scope.end, settings, turbines=list(result.scope.turbines))
    coverage = coverage[coverage.index.get_level_values("signal").isin(etl_signal_names())]
    rows = {}
    for name, own in coverage.groupby(level="turbine"):
        own = own.droplevel("turbine")
        rows[name] = {
            "signals": int((own["rows"] > 0).sum()),
            "rows": int(own["rows"].sum()),
            "first": _clock(own["first"].min()),
            "last": _clock(own["last"].max()),
            "mean wind_speed_mean": own["mean"].get("wind_speed_mean"),
            "mean power_mean": own["mean"].get("power_mean"),
        }
    frame = present.rounded(pd.DataFrame.from_dict(rows, orient="index").rename_axis("turbine"), DECIMALS)
    expected_rows = BUCKETS_PER_DAY * len(etl_signal_names())
    return present.table(
        frame.astype({"signals": int, "rows": int}),
        warn_below={"rows": expected_rows},
        caption=f"The target now (a complete day: {expected_rows} rows per turbine)",
    )


def _clock(stamp: pd.Timestamp) -> str:
    return "" if pd.isna(stamp) else stamp.strftime("%H:%M")
