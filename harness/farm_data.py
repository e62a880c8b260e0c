"""Generated farm data for tests: the default farm's samples with injected faults, and how to read
what the checks made of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from etl_lib.core.contract import (
    FULL_PERFORMANCE_SIGNAL,
    POTENTIAL_SIGNAL,
    SAMPLE_PERIOD,
    SOURCE_VARIABLES,
    etl_signal_names,
)
from etl_lib.simulation import generator, status_log
from etl_lib.simulation.faults import inject

FARM_MODELS = {t.name: t.model for t in generator.build_farm()}  # the default farm's models by turbine
DEFAULT_CLIMATE = generator.WindClimate()


def at(day: dt.date, hhmm: str) -> pd.Timestamp:
    return pd.Timestamp(f"{day.isoformat()}T{hhmm}Z")


def minutes(day: dt.date, hhmm: str, n: int, period: dt.timedelta = SAMPLE_PERIOD) -> pd.DatetimeIndex:
    return pd.date_range(at(day, hhmm), periods=n, freq=period)


def generated(start: dt.date, days: int = 1, faults=(), seed: int = 42) -> pd.DataFrame:
    """The default farm's samples with ``faults``: index (turbine, timestamp), one column per variable."""
    return simulated(start, days, faults, seed).samples


@dataclass(frozen=True)
class Simulated:
    """A generated farm over some days, as the source would hold it and as it really was."""

    samples: pd.DataFrame  # index (turbine, timestamp), one column per variable: the source's rows
    events: pd.DataFrame  # turbine, start_time, end_time, code, category: the status log
    potential: pd.DataFrame  # the true potential power (kW), a column per turbine, every minute
    state: pd.DataFrame  # the status code of each minute, a column per turbine


def simulated(
    start: dt.date, days: int = 1, faults=(), seed: int = 42, climate: generator.WindClimate = DEFAULT_CLIMATE
) -> Simulated:
    """The default farm with ``faults``: its samples, its status log and each minute's true potential."""
    farm = generator.build_farm()
    samples, events, potential, state = {}, [], {}, {}
    for t, frame in generator.generate(farm, start, days, seed, climate):
        minutes = inject(frame, faults, seed, turbine=t.name).set_index("timestamp")
        samples[t.name] = minutes.loc[minutes["present"], list(SOURCE_VARIABLES)]
        events.append(status_log.events(minutes.index, minutes["state"].to_numpy()).assign(turbine=t.name))
        potential[t.name], state[t.name] = minutes["potential"], minutes["state"]
    log = pd.concat(events, ignore_index=True)
    log["category"] = [status_log.CODES[code].category.value for code in log["code"]]
    return Simulated(
        pd.concat(samples, names=["turbine", "timestamp"]),
        log[["turbine", "start_time", "end_time", "code", "category"]],
        pd.DataFrame(potential),
        pd.DataFrame(state),
    )


@dataclass(frozen=True)
class Fleet:
    """Generated farms side by side, as a run of several farms at once would see them (a run is one farm's day:
    the tests use it to show that the checks keep each turbine to its own farm)."""

    samples: pd.DataFrame  # index (turbine, timestamp), one column per variable
    farms: dict[str, str]  # each turbine's farm
    models: dict[str, object]  # each turbine's model
    elevation: dict[str, float]  # each turbine's elevation (m)

    def of(self, farm: str) -> list[str]:
        """The turbines of ``farm``, in order."""
        return [name for name, its in self.farms.items() if its == farm]


def fleet(start: dt.date, climates, days: int = 1, turbines: int = 4, seed: int = 42) -> Fleet:
    """``len(climates)`` farms of ``turbines`` turbines (``generator.build_fleet``: WF01, WF02, …), each in the
    weather of its own climate (e.g. a calm farm beside a windy one), without faults."""
    samples, farms, models, elevation = {}, {}, {}, {}
    for members, climate in zip(generator.build_fleet(len(climates), turbines), climates, strict=True):
        for t, frame in generator.generate(members, start, days, seed, climate):
            samples[t.name] = frame.set_index("timestamp")[list(SOURCE_VARIABLES)]
            farms[t.name], models[t.name], elevation[t.name] = t.site.name, t.model, t.elevation
    return Fleet(pd.concat(samples, names=["turbine", "timestamp"]), farms, models, elevation)


def flagged(result, turbine: str, variable: str, check_name: str) -> pd.DatetimeIndex:
    """The instants ``check_name`` flagged ``variable`` of ``turbine`` in a ``QualityResult``."""
    column = result.flags[(turbine, variable, check_name)]
    return column[column].index


def counts(result) -> dict[tuple[str, str, str], int]:
    """``(turbine, variable, check) -> samples flagged`` of a ``QualityResult``, the non-zero ones."""
    totals = result.flags.sum()
    return {key: int(n) for key, n in totals[totals > 0].items()}


def ten_minute_means(samples: pd.DataFrame) -> pd.DataFrame:
    """A 10-minute export of ``samples``: means labelled by their start, rounded as exports write them."""
    by = [pd.Grouper(level="turbine"), pd.Grouper(level="timestamp", freq="10min")]
    return samples.groupby(by).mean().round({"wind_speed": 2, "power": 1, "ambient_temperature": 2})


def day_signal_names() -> list[str]:
    """The signals a run with KPIs writes in every bucket of clean data: the ETL's statistics, the potential
    power and the share of full performance (the good samples' statistics only where a check refused some)."""
    return [*etl_signal_names(), POTENTIAL_SIGNAL, FULL_PERFORMANCE_SIGNAL]
