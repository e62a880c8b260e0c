"""How every report looks: one set of conventions for tables and figures, shared by the audit report,
the exploration and the runs summary.

**Tables.** A report helper returns a plain DataFrame (its numbers stay numbers) and says how it reads
with ``table(frame, percent=..., caption=..., empty=..., warn_below=..., links=...)``; the
conventions travel with the frame in ``frame.attrs``. ``text(frame)`` and ``html(frame)`` render
the same formatted values: integers as integers, shares as percentages, floats with the decimals the
column needs, missing values as "—". The HTML is a pandas ``Styler`` whose id is derived from the
table's content, so the same table gives the same HTML on every run (a Styler's own uuid is random).

**Figures.** ``figure(rows, ...)`` makes a ``Figure`` with fixed margins and room on the right for
``legend_outside(ax)``, so a legend never covers the data; ``limit_lines`` draws reference levels
(rated power, the limits of the range check) near the data, named in the legend; ``time_axis`` labels a time axis with
ticks that fit its range (hours for a day, days for weeks); ``share_axis`` shows shares of good
samples as percentages on an axis that starts just below the lowest value, not at 0, so 93 % and
97 % look different.

**In a notebook**, ``use_in_notebook()`` (the setup cell calls it) makes IPython display every
DataFrame as that HTML beside that text (the text is what nbval compares and a console shows) and
every Figure as one PNG drawn in a single pass at ``DPI``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html as html_escape
import io
import math
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from ..core.contract import MIN_GOOD_SHARE
from ..pipeline import notices
from ..storage.engines import redact

ATTRS_KEY = "present"
MISSING = "—"
MAX_DECIMALS = 4
PERCENT_DECIMALS = 2
DPI = 80  # pixels per inch of the PNGs in the reports: an 11-inch figure is 880 pixels wide
LEGEND_WIDTH = 2.5  # inches to the right of the axes, for legend_outside
WARN_COLOR = "#fde0c5"  # the background of a cell that shows a fault
UTC = dt.UTC


# --- tables ---------------------------------------------------------------------------------------


def table(
    frame: pd.DataFrame,
    *,
    percent: Iterable[str] = (),
    decimals: Mapping[str, int] | None = None,
    caption: str | None = None,
    empty: str | None = None,
    warn_below: Mapping[str, float] | None = None,
    warn_above: Mapping[str, float] | None = None,
    links: Mapping[str, str] | None = None,
    index: bool = True,
) -> pd.DataFrame:
    """``frame`` with how it reads: ``percent`` columns are shares 0..1 shown as %, ``decimals`` caps the
    decimals of float columns (default ``MAX_DECIMALS``), ``caption`` heads the table, ``empty`` is said
    instead of a table without rows, a cell below ``warn_below[column]`` or above ``warn_above[column]``
    is highlighted, ``links[column]`` is a pattern such as ``"{}.html"`` that makes the cells links in
    HTML (the index's cells, when ``column`` is the index's name), and ``index=False`` hides a meaningless index. Returns the frame itself."""
    frame.attrs[ATTRS_KEY] = {
        "percent": list(percent),
        "decimals": dict(decimals or {}),
        "caption": caption,
        "empty": empty,
        "warn_below": dict(warn_below or {}),
        "warn_above": dict(warn_above or {}),
        "links": dict(links or {}),
        "index": index,
    }
    return frame


def _conventions(frame: pd.DataFrame) -> dict:
    return DEFAULTS | frame.attrs.get(ATTRS_KEY, {})


DEFAULTS = {
    "percent": [],
    "decimals": {},
    "caption": None,
    "empty": None,
    "warn_below": {},
    "warn_above": {},
    "links": {},
    "index": True,
}


# From this magnitude on a float64 has no fractional digits left to round, and rounding it (which
# multiplies by 10 ** decimals) can overflow to infinity: 1e308 rounded to 4 decimals is inf.
WHOLE = 2.0**52
# ... and its digits are shown in scientific notation, not as a 309-digit number.
SCIENTIFIC = 1e15


def rounded(values, decimals: int):
    """``values`` (a number, an array, a Series or a DataFrame) rounded to ``decimals``, except what is
    too large to have decimals, kept as it is: never an overflow to infinity."""
    if isinstance(values, pd.DataFrame):
        result = values.copy()
        for position in range(result.shape[1]):
            result.iloc[:, position] = rounded(result.iloc[:, position], decimals)
        return result
    if isinstance(values, pd.Series):
        if not pd.api.types.is_float_dtype(values):
            return values
        keep = values.abs().ge(WHOLE) | values.isna()
        return values.where(keep, values.clip(-WHOLE, WHOLE).round(decimals))
    array = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(array) >= WHOLE, array, np.round(np.clip(array, -WHOLE, WHOLE), decimals))


def _decimals_needed(values: np.ndarray, most: int) -> int:
    """The fewest decimals (up to ``most``) that show every value as it is at ``most`` decimals."""
    values = values[np.isfinite(values)]
    target = rounded(values, most)
    for decimals in range(most + 1):
        if np.allclose(rounded(values, decimals), target, rtol=0, atol=10.0 ** -(most + 1)):
            return decimals
    return most


def _bare(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without its attrs: pandas deep-copies them into every column and copy taken from it."""
    bare = frame.copy(deep=False)
    bare.attrs = {}
    return bare


def formatters(frame: pd.DataFrame) -> dict[str, callable]:
    """Per column, the function that turns a value into the text both renderings show."""
    conventions = _conventions(frame)
    frame = _bare(frame)
    percent = [column for column in frame.columns if column in conventions["percent"]]
    shares = frame[percent].to_numpy("float64", na_value=np.nan).ravel() * 100
    percent_digits = _decimals_needed(shares, PERCENT_DECIMALS)  # one for the table: shares compare across columns
    result = {}
    for column in frame.columns:
        series = frame[column]
        if column in percent:
            result[column] = _number_format(f"{{:.{percent_digits}f}}%", scale=100)
        elif pd.api.types.is_bool_dtype(series):
            result[column] = _text_format
        elif pd.api.types.is_integer_dtype(series):
            result[column] = _number_format("{:d}")
        elif pd.api.types.is_float_dtype(series):
            most = conventions["decimals"].get(column, MAX_DECIMALS)
            digits = _decimals_needed(series.to_numpy("float64", na_value=np.nan), most)
            result[column] = _number_format(f"{{:.{digits}f}}")
        else:
            result[column] = _text_format
    return result


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _number_format(pattern: str, scale: float = 1):
    def render(value) -> str:
        if _is_missing(value):
            return MISSING
        number = float(value) * scale
        if abs(number) >= SCIENTIFIC and math.isfinite(number):  # e.g. a reading of 1e308: 1e+308, not 309 digits
            return f"{number:.6g}"
        return pattern.format(round(number) if pattern == "{:d}" else number)

    return render


def _text_format(value) -> str:
    return MISSING if _is_missing(value) else str(value)


def text(frame: pd.DataFrame) -> str:
    """The table as plain text: the caption, then the formatted values (or the ``empty`` sentence)."""
    conventions = _conventions(frame)
    lines = [conventions["caption"]] if conventions["caption"] else []
    if frame.empty:
        lines.append(conventions["empty"] or "(no rows)")
        return "\n".join(lines)
    renders, frame = formatters(frame), _bare(frame)
    shown = pd.DataFrame({column: frame[column].map(render) for column, render in renders.items()})
    shown.index, shown.columns = frame.index, frame.columns
    for position, column in enumerate(frame.columns):
        if not pd.api.types.is_numeric_dtype(frame[column]):  # text reads from the left, numbers from the right
            width = max(shown.iloc[:, position].str.len().max(), *(len(str(part)) for part in _as_tuple(column)))
            shown.iloc[:, position] = shown.iloc[:, position].str.ljust(width)
    lines.extend(line.rstrip() for line in shown.to_string(index=conventions["index"]).splitlines())
    return "\n".join(lines)


def _as_tuple(column) -> tuple:
    return column if isinstance(column, tuple) else (column,)


def _table_id(frame: pd.DataFrame, conventions: dict) -> str:
    """A short id from the table's content and conventions: the same table gets the same id every run."""
    content = frame.to_csv() + repr(sorted(conventions.items(), key=lambda item: item[0]))
    return "t" + hashlib.sha1(content.encode()).hexdigest()[:10]


TABLE_STYLES = [
    {"selector": "", "props": "border-collapse: collapse; font-size: 12px; margin: 0.3em 0 0.8em 0;"},
    {"selector": "caption", "props": "caption-side: top; text-align: left; font-weight: bold; padding: 0.2em 0;"},
    {"selector": "th", "props": "text-align: left; padding: 0.15em 0.7em; border-bottom: 1px solid #bbb;"},
    {"selector": "td", "props": "text-align: right; padding: 0.15em 0.7em; font-variant-numeric: tabular-nums;"},
    {"selector": "tbody tr:nth-child(even)", "props": "background: #f5f5f5;"},
]


def html(frame: pd.DataFrame) -> str:
    """The table as HTML (a pandas Styler with a content-derived id), or the ``empty`` sentence."""
    from pandas.io.formats.style import Styler  # jinja2: imported when the first table is shown

    conventions = _conventions(frame)
    caption = conventions["caption"]
    if frame.empty:
        head = f"<p><strong>{html_escape.escape(caption)}</strong></p>" if caption else ""
        return f"{head}<p><em>{html_escape.escape(conventions['empty'] or '(no rows)')}</em></p>"
    columns = list(frame.columns)
    renders = {column: _escaped(render) for column, render in formatters(frame).items()}
    table_id, frame = _table_id(frame, conventions), _bare(frame)
    for column, pattern in conventions["links"].items():
        if column in columns:
            renders[column] = _link_format(pattern)
    styler = Styler(frame, uuid=table_id, cell_ids=False).format(renders)
    index_link = conventions["links"].get(frame.index.name)
    styler = (
        styler.format_index(_link_format(index_link), axis=0)
        if index_link
        else styler.format_index(escape="html", axis=0)
    )
    styler = styler.format_index(escape="html", axis=1)
    styler = styler.set_table_styles(TABLE_STYLES)
    text_columns = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c]) and c not in conventions["links"]]
    if text_columns:  # text reads from the left, numbers from the right
        styler = styler.set_table_styles(
            {c: [{"selector": "td", "props": "text-align: left;"}] for c in text_columns}, overwrite=False
        )
    if caption:
        styler = styler.set_caption(caption)
    if not conventions["index"]:
        styler = styler.hide(axis="index")
    warn = {column: ("below", limit) for column, limit in conventions["warn_below"].items()}
    warn |= {column: ("above", limit) for column, limit in conventions["warn_above"].items()}
    for column, (side, limit) in warn.items():
        if column in columns:
            styler = styler.map(_warn_style(side, limit), subset=[column])
    # One line: a notebook keeps a multi-line output as a list of lines, one JSON item each, and papermill
    # writes the whole notebook twice per cell (this is most of its saving time).
    return " ".join(line.strip() for line in styler.to_html(doctype_html=False).splitlines())


def _escaped(render):
    return lambda value: html_escape.escape(render(value), quote=False)


def _link_format(pattern: str):
    def render(value) -> str:
        if _is_missing(value):
            return MISSING
        target = html_escape.escape(pattern.format(value), quote=True)
        return f'<a href="{target}">{html_escape.escape(str(value))}</a>'

    return render


def _warn_style(side: str, limit: float):
    def style(value) -> str:
        if _is_missing(value):
            return ""
        return f"background-color: {WARN_COLOR}" if (value < limit if side == "below" else value > limit) else ""

    return style


def shown_url(url: str) -> str:
    """A database URL as a person reads it: the password hidden, percent-escapes decoded
    (``host=%2Ftmp%2F...`` becomes ``host=/tmp/...``)."""
    return unquote(redact(url))


class Markdown:
    """Markdown a notebook shows rendered, with the same text as its plain form (what nbval compares)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def _repr_markdown_(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return self.source


# --- figures --------------------------------------------------------------------------------------


def figure(
    rows: int = 1,
    *,
    width: float = 11.0,
    row_height: float = 3.2,
    legend: bool = True,
    sharex: bool = False,
    columns: int = 1,
) -> tuple[Figure, np.ndarray]:
    """A Figure with ``rows`` axes stacked (``rows`` × ``columns`` axes, row by row, with ``columns``),
    fixed margins (so it is drawn once, without a layout pass) and, with ``legend``, ``LEGEND_WIDTH``
    inches on the right for ``legend_outside``. With ``sharex`` the axes show one x range, labelled
    under the last row only (call ``same_x`` once it is set)."""
    top, bottom, between, left = 0.45, 0.55, 0.75, 0.85  # inches: title, tick labels, both, y label
    height = top + bottom + rows * row_height + (rows - 1) * between
    fig = Figure(figsize=(width, height))
    right = width - (LEGEND_WIDTH if legend else 0.3)
    column_width = (right - left - (columns - 1) * left) / columns
    fig.subplots_adjust(
        left=left / width,
        right=right / width,
        top=1 - top / height,
        bottom=bottom / height,
        hspace=between / row_height,
        wspace=left / column_width,
    )
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    if sharex:  # not matplotlib's sharex: its label alignment measures every sibling's ticks at each draw
        for ax in axes[:-columns]:
            ax.tick_params(labelbottom=False)
    return fig, axes


def same_x(axes: Iterable[Axes]) -> None:
    """The last axes' x range and ticks on every one of ``axes`` (the stacked panels of ``figure``)."""
    axes = list(axes)
    for ax in axes[:-1]:
        ax.set_xlim(axes[-1].get_xlim())
        ax.xaxis.set_major_locator(axes[-1].xaxis.get_major_locator())


def title(ax: Axes, text: str) -> None:
    """The axes' title, on the left, at a fixed height: matplotlib otherwise measures every tick label
    at each drawing to see whether the title must move up (a tenth of a report's figure time)."""
    ax.set_title(text, loc="left", y=1.0)


def legend_outside(ax: Axes, **options) -> None:
    """The legend to the right of the axes, top-aligned: never on the data."""
    handles, _labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(
            loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small", frameon=False, **options
        )


def one_legend(axes: Iterable[Axes], beside: int = 0) -> None:
    """One legend beside ``axes[beside]`` for what all of them draw (each label once): small multiples
    draw the same things, and a legend per panel costs a tenth of the figure's drawing."""
    axes = list(axes)
    entries = {label: handle for ax in axes for handle, label in zip(*ax.get_legend_handles_labels())}
    if entries:
        axes[beside].legend(
            entries.values(),
            entries.keys(),
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            fontsize="small",
            frameon=False,
        )


LEVEL_STYLES = {
    "rated": {"color": "0.3", "lw": 0.9, "ls": (0, (6, 3)), "alpha": 0.8},
    "limit": {"color": "tab:red", "lw": 0.9, "ls": (0, (2, 2)), "alpha": 0.8},
}


def axis_bounds(lower: float, upper: float) -> tuple[float, float]:
    """How far a plot of a variable with physical limits ``[lower, upper]`` (the range check's) reaches:
    one span of the limits beyond each, so a reading well outside them still shows where it is, and
    an absurd one (1e308, a saturated transducer's code) cannot stretch the axis until the data
    flatten or the drawing overflows."""
    span = max(upper - lower, 1.0)
    return lower - span, upper + span


def drawable(values, bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """``values`` as drawn on an axis held to ``bounds`` (see ``axis_bounds``): those beyond at its edge;
    and where they were beyond. Missing values stay missing."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        beyond = (values < bounds[0]) | (values > bounds[1])
    return np.clip(values, *bounds), beyond


def mark_beyond(ax: Axes, x, values, beyond: np.ndarray, bounds: tuple[float, float], unit: str) -> None:
    """Triangles at the edge of the axis where ``values`` lie beyond ``bounds`` (pointing up above it, down
    below it), named once in the legend with how many and the farthest value."""
    if not beyond.any():
        return
    values, x = np.asarray(values, dtype=float), np.asarray(x)
    far = values[beyond]
    label = f"beyond the axis ({int(beyond.sum())}: {far[np.argmax(np.abs(far))]:.3g} {unit})"
    for side, edge, marker in ((values > bounds[1], bounds[1], "^"), (values < bounds[0], bounds[0], "v")):
        if side.any():
            ax.plot(
                x[side],
                np.full(int(side.sum()), edge),
                ls="none",
                marker=marker,
                ms=6,
                color="black",
                zorder=5,
                label=label,
            )
            label = None


def limit_lines(
    ax: Axes, levels: Mapping[str, tuple[str, Iterable[float]]], data: Iterable[float], *, always: Iterable[str] = ()
) -> None:
    """Horizontal lines at reference levels, each kind once in the legend: ``levels`` maps a label
    (e.g. "range limits (kW)") to its style in ``LEVEL_STYLES`` and its values. A value is drawn when
    it lies within the data's span plus a twentieth of it, or when its label is in ``always`` (a limit
    the data crossed), so that a level far from the data does not flatten the plot."""
    values = np.asarray(list(data), dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return
    low, high = values.min(), values.max()
    margin = max(high - low, 1.0) * 0.05
    always = set(always)
    for label, (style, levels_of_kind) in levels.items():
        shown = [v for v in levels_of_kind if label in always or low - margin <= v <= high + margin]
        for i, level in enumerate(shown):
            ax.axhline(level, zorder=1.5, label=label if i == 0 else None, **LEVEL_STYLES[style])


def instants(index: pd.Index) -> np.ndarray:
    """UTC instants as matplotlib plots them fastest: ``datetime64`` (time-zone aware Timestamps go through
    a conversion of each value to ``datetime``; these report plots draw thousands)."""
    index = pd.DatetimeIndex(index)
    return (index.tz_convert(UTC).tz_localize(None) if index.tz is not None else index).to_numpy("datetime64[ns]")


def time_axis(ax: Axes, *, daily: bool = False, most: int = 10) -> None:
    """Ticks that fit the time range, in UTC: hours for a day (its midnights labelled with the date),
    days for weeks (the month at its start), without a separate offset label. ``daily`` values (a
    point per day) get no ticks finer than a day; at most ``most`` ticks (fewer on a narrow panel)."""
    locator = mdates.AutoDateLocator(tz=UTC, minticks=1 if daily else 4, maxticks=most)
    if daily:
        locator.intervald[mdates.HOURLY] = [24]
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC, show_offset=False)
    if daily:  # without an offset, a day says its month
        formatter.formats = ["%Y", "%b", "%b %d", "%H:%M", "%H:%M", "%S.%f"]
        formatter.zero_formats = ["", "%Y", "%b %d", "%b %d", "%H:%M", "%H:%M"]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)


def share_axis(ax: Axes, shares: Iterable[float], *, floor: float | None = None) -> None:
    """A y axis of shares (0..1) shown in %, from just below the lowest value (and ``floor``, e.g. a
    threshold) to 100 %: the difference between 93 % and 97 % stays visible."""
    values = np.asarray([v for v in shares if v is not None], dtype=float)
    values = values[np.isfinite(values)]
    lowest = min([*values, *([floor] if floor is not None else []), 1.0])
    span = max(1.0 - lowest, 0.01)
    bottom = max(0.0, lowest - 0.15 * span)
    ax.set_ylim(bottom, 1.0 + 0.08 * span)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None if span > 0.05 else 1))


# Per series, a marker and its size from large to small: where two series agree, both stay visible.
SHARE_MARKERS = [("o", 8), ("s", 5.5), ("^", 4), ("D", 3)]


def daily_shares_figure(shares: pd.DataFrame, heading: str) -> tuple[Figure, Axes]:
    """Shares of good samples per day (index: ``YYYY-MM-DD``, a column per variable) as points joined by
    lines, each day at its noon, on a ``share_axis`` with the threshold ``MIN_GOOD_SHARE`` of Dagster's
    quality check; returns the figure and its axes for more marks (e.g. failed days)."""
    days = pd.to_datetime(pd.Index(shares.index)).tz_localize(UTC) + pd.Timedelta(hours=12)
    fig, (ax,) = figure(1, row_height=2.6)
    for (column, values), (marker, size) in zip(shares.items(), SHARE_MARKERS):
        ax.plot(days, values.astype(float), marker=marker, ms=size, lw=1, label=str(column).replace("_", " "))
    ax.axhline(
        MIN_GOOD_SHARE, color="tab:red", lw=0.9, ls=(0, (2, 2)), label=f"quality check threshold ({MIN_GOOD_SHARE:.0%})"
    )
    share_axis(ax, shares.to_numpy(dtype=float, na_value=np.nan).ravel(), floor=MIN_GOOD_SHARE)
    if len(days):
        ax.set_xlim(days.min() - pd.Timedelta(hours=12), days.max() + pd.Timedelta(hours=12))
    time_axis(ax, daily=True)
    ax.set_ylabel("share of good samples")
    title(ax, heading)
    return fig, ax


def png(fig: Figure) -> bytes:
    """The figure as PNG, drawn once at ``DPI`` (its margins are fixed, so no tight bounding box)."""
    buffer = io.BytesIO()
    # Compression level 1 instead of 6: about as small for these plots, and a third faster.
    fig.savefig(
        buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None}, pil_kwargs={"compress_level": 1}
    )
    return buffer.getvalue()


# --- in a notebook --------------------------------------------------------------------------------


def use_in_notebook() -> None:
    """Display DataFrames as these tables (HTML, with the text form beside it) and Figures as PNG, in
    the running IPython kernel, and show a run's retries and waits in the output of its cell
    (``pipeline.notices``); outside IPython nothing changes."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - the reports run in IPython
        return
    shell = get_ipython()
    if shell is None:
        return
    formatters_ = shell.display_formatter.formatters
    formatters_["text/html"].for_type(pd.DataFrame, html)
    formatters_["text/plain"].for_type(pd.DataFrame, lambda frame, printer, cycle: printer.text(text(frame)))
    formatters_["image/png"].for_type(Figure, png)
    notices.show()


# --- sections: a variable number of parts (e.g. one per turbine) in one output ---------------------


class Section:
    """A part of a report: a ``heading``, a one-line ``summary`` beside it, and ``items`` (tables as
    ``table`` frames, figures, Markdown or plain text); ``folded`` parts open on a click (HTML)."""

    def __init__(self, heading: str, summary: str = "", items: Iterable = (), *, folded: bool = True) -> None:
        self.heading, self.summary, self.items, self.folded = heading, summary, list(items), folded


def _item_html(item) -> str:
    if isinstance(item, pd.DataFrame):
        return html(item)
    if isinstance(item, Figure):
        encoded = base64.b64encode(png(item)).decode()
        return f'<img src="data:image/png;base64,{encoded}" style="max-width: 100%;">'
    if isinstance(item, Markdown):
        return f"<p>{html_escape.escape(item.source)}</p>"
    return f"<p>{html_escape.escape(str(item))}</p>"


def _item_text(item) -> str:
    if isinstance(item, pd.DataFrame):
        return text(item)
    if isinstance(item, Figure):  # nbval compares the text: a figure by its titles
        titles = [ax.get_title("left") or ax.get_title() for ax in item.axes if ax.get_title("left") or ax.get_title()]
        return "[figure: " + "; ".join(titles) + "]"
    return item.source if isinstance(item, Markdown) else str(item)


class Sections:
    """Parts of a report shown as one output: HTML with each part in a ``<details>`` element (figures
    embedded as PNG), and a plain text of the same parts (what nbval compares and a console shows)."""

    def __init__(self, sections: Iterable[Section], *, empty: str = "") -> None:
        self.sections, self.empty = list(sections), empty

    def _repr_html_(self) -> str:
        if not self.sections:
            return f"<p><em>{html_escape.escape(self.empty)}</em></p>"
        parts = []
        for section in self.sections:
            summary = f"<strong>{html_escape.escape(section.heading)}</strong>"
            if section.summary:
                summary += f" — {html_escape.escape(section.summary)}"
            body = "".join(_item_html(item) for item in section.items)
            opened = "" if section.folded else " open"
            parts.append(f'<details{opened} style="margin: 0.4em 0;"><summary>{summary}</summary>{body}</details>')
        return "".join(parts)

    def __repr__(self) -> str:
        if not self.sections:
            return self.empty
        blocks = []
        for section in self.sections:
            head = section.heading + (f" — {section.summary}" if section.summary else "")
            blocks.append("\n\n".join([head, *(_item_text(item) for item in section.items)]))
        return "\n\n".join(blocks)
