"""The scope of a run: one UTC day ``[start, end)`` of the whole farm or of the turbines named.

Made once (``RunScope.day``) and handed through extract, checks, transform and load, so no stage
recomputes the day's bounds; ``turbines`` is None until the farm is known (the API's turbines),
then the names the run covers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from .dates import day_bounds, parse_run_date
from .errors import ConfigurationError


@dataclass(frozen=True)
class RunScope:
    run_date: dt.date
    start: dt.datetime
    end: dt.datetime
    turbines: tuple[str, ...] | None = None  # None: every turbine of the farm

    @classmethod
    def day(cls, run_date: dt.date | str, turbines: list[str] | tuple[str, ...] | str | None = None) -> RunScope:
        """The UTC day of ``run_date`` (checked: a past date in the form YYYY-MM-DD), for ``turbines``
        (names; one name alone, as papermill's ``-p turbines WT01`` gives it, is a list of one)."""
        run_date = parse_run_date(run_date)
        return cls(run_date, *day_bounds(run_date), turbines=_names(turbines))

    def covering(self, turbines: list[str] | tuple[str, ...]) -> RunScope:
        """The same day for exactly these turbines."""
        return replace(self, turbines=tuple(turbines))

    @property
    def label(self) -> str:
        """``2024-10-01`` or ``2024-10-01 (WT02)``: how messages name the run."""
        day = self.run_date.isoformat()
        return day if self.turbines is None else f"{day} ({', '.join(self.turbines)})"


def _names(turbines) -> tuple[str, ...] | None:
    if turbines is None:
        return None
    names = (turbines,) if isinstance(turbines, str) else tuple(turbines)
    # As given (a name may have a comma or spaces at its ends); the farm's name is matched by the run.
    names = tuple(dict.fromkeys(str(name) for name in names if str(name).strip()))
    if not names:
        raise ConfigurationError(
            f"The turbine selection {turbines!r} names no turbine.",
            "Give one or more turbine names (e.g. ['WT01', 'WT02']), or None for the whole farm.",
            setting="turbines",
        )
    return names
