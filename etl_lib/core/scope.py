"""The scope of a run: one UTC day ``[start, end)`` of one farm, whole or the turbines named.

Made once (``RunScope.day``) and handed through extract, checks, transform and load, so no stage
recomputes the day's bounds; ``farm`` is None until the farm is known (the one named, or the source's
only farm), ``turbines`` None until its turbines are known (the API's turbines of the farm), then the
names the run covers.
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
    farm: str | None = None  # None: the source's only farm, until it is known

    @classmethod
    def day(
        cls,
        run_date: dt.date | str,
        turbines: list[str] | tuple[str, ...] | str | None = None,
        farm: str | None = None,
    ) -> RunScope:
        """The UTC day of ``run_date`` (checked: a past date in the form YYYY-MM-DD) of ``farm`` (its name; None:
        the source's only farm), for ``turbines`` (names; one name alone, as papermill's ``-p turbines WT01``
        gives it, is a list of one)."""
        run_date = parse_run_date(run_date)
        return cls(run_date, *day_bounds(run_date), turbines=_names(turbines), farm=_farm(farm))

    def at(self, farm: str) -> RunScope:
        """The same day and turbines, of the farm now known."""
        return replace(self, farm=farm)

    def covering(self, turbines: list[str] | tuple[str, ...], farm: str | None = None) -> RunScope:
        """The same day for exactly these turbines (of ``farm``, when given: the farm now known)."""
        return replace(self, turbines=tuple(turbines), farm=self.farm if farm is None else farm)

    @property
    def label(self) -> str:
        """``2024-10-01``, ``2024-10-01 of farm WF02`` or ``2024-10-01 of farm WF02 (WT05)``: how messages name
        the run."""
        day = self.run_date.isoformat() + ("" if self.farm is None else f" of farm {self.farm}")
        return day if self.turbines is None else f"{day} ({', '.join(self.turbines)})"


def _farm(farm) -> str | None:
    """A farm's name as given (papermill's ``-p farm 7`` arrives as a number: its text), or None."""
    if farm is None:
        return None
    name = str(farm).strip()
    if not name:
        raise ConfigurationError(
            f"The farm {farm!r} is no name.",
            "Give the farm's name (GET /farms lists them), or None for the source's only farm.",
            setting="farm",
        )
    return name


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
