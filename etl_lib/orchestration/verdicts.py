"""The verdicts behind Dagster's asset checks, as plain functions of data (no Dagster here, so they
are tested without it).

``bucket_completeness`` says whether a day has every 10-minute bucket of every signal of every
turbine in the target (every signal the ETL writes) and, when not, why not (from the day's samples);
``quality_verdict`` compares the shares of good samples a run's record holds with a threshold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from ..core.contract import BUCKET, BUCKETS_PER_DAY, ETL_VARIABLES, STATISTICS, etl_signal_names, split_signal_name
from ..core.dates import day_bounds
from ..pipeline.transform import buckets

NO_SAMPLES = "the source has no samples of the variable in the bucket"
ONE_SAMPLE = "the bucket has a single sample, so its standard deviation is undefined"
UNEXPLAINED = "not explained by the source data; re-materialize the partition"


def day_buckets(run_date: dt.date, until: dt.datetime | None = None) -> pd.DatetimeIndex:
    """The day's bucket starts (UTC); of a day not over yet, those before ``until`` (its complete part)."""
    start, end = day_bounds(run_date)
    return pd.date_range(start, end if until is None else min(until, end), freq=BUCKET, inclusive="left")


def key(turbine: str, signal: str) -> str:
    """How the verdicts name one turbine's signal: ``WT01/power_mean``."""
    return f"{turbine}/{signal}"


@dataclass
class Completeness:
    run_date: dt.date
    buckets: dict[str, int]  # turbine/signal -> buckets written
    missing: dict[str, dict[str, int]] = field(default_factory=dict)  # reason -> {turbine/signal: n}
    first_missing: dict[str, str] = field(default_factory=dict)  # reason -> first bucket start
    note: str | None = None  # why the reasons could not be worked out, if they could not
    samples: int | None = None  # the day's samples in the source, when they were fetched
    expected: int = BUCKETS_PER_DAY  # buckets per signal: the day's, or a day not over yet's complete ones
    until: dt.datetime | None = None  # a day not over yet: complete until then (its standing run's record)

    @property
    def passed(self) -> bool:
        return all(n == self.expected for n in self.buckets.values())

    @property
    def explained_by_source(self) -> bool:
        """Every missing bucket is accounted for by the source data (an outage, a lone sample):
        the ETL did its job, so this is worth a warning, not an error."""
        return not self.passed and self.note is None and bool(self.missing) and UNEXPLAINED not in self.missing

    @property
    def _partial(self) -> str:
        return "" if self.until is None else f" (the day is not over: complete until {self.until:%H:%M} UTC)"

    def describe(self) -> str:
        day = self.run_date.isoformat()
        if self.passed:
            return (
                f"{day}: all {len(self.buckets)} signals (turbine/signal) have {self.expected} buckets{self._partial}."
            )
        if not any(self.buckets.values()):
            lines = [f"{day}: nothing is written in the target for this day"]
            if self.samples == 0:
                lines[0] += ", and the source has no samples for it either: there is nothing to write."
            elif self.samples:
                lines[0] += f", though the source has {self.samples} samples: materialize this partition."
            else:
                lines[0] += ": materialize this partition."
        else:
            short = ", ".join(f"{name} {n}" for name, n in self.buckets.items() if n != self.expected)
            lines = [f"{day}: buckets written of {self.expected}{self._partial}: {short}."]
            for reason, per_signal in self.missing.items():
                counts = ", ".join(f"{name} {n}" for name, n in per_signal.items())
                lines.append(f"Missing because {reason} (first at {self.first_missing[reason]}): {counts}.")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def bucket_completeness(
    run_date: dt.date,
    turbines: list[str],
    written: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    note: str | None = None,
    until: dt.datetime | None = None,
) -> Completeness:
    """Buckets per turbine and signal in ``written`` (long: ``timestamp, turbine, signal, value``) for the day.

    ``samples`` (the day's samples indexed by ``(turbine, timestamp)``, as ``fetch_day`` returns
    their values) explain the missing buckets; without them only the counts are known and ``note``
    says why. ``until``: a day not over yet is judged on its buckets before then (its standing run's
    ``complete_until``).
    """
    expected = day_buckets(run_date, until)
    names = etl_signal_names()
    groups = (
        {k: pd.DatetimeIndex(g["timestamp"]) for k, g in written.groupby(["turbine", "signal"])} if len(written) else {}
    )
    present = {
        (turbine, name): groups.get((turbine, name), pd.DatetimeIndex([], tz="UTC")).intersection(expected)
        for turbine in turbines
        for name in names
    }
    result = Completeness(
        run_date,
        {key(*pair): len(index) for pair, index in present.items()},
        note=note,
        expected=len(expected),
        until=until,
    )
    if result.passed or samples is None:
        return result
    result.samples = len(samples)
    firsts: dict[str, pd.Timestamp] = {}
    for turbine in turbines:
        own = samples.xs(turbine, level="turbine") if turbine in samples.index.get_level_values("turbine") else None
        counts = (
            buckets(own.reindex(columns=list(ETL_VARIABLES))).count().reindex(expected, fill_value=0)
            if own is not None and len(own)
            else pd.DataFrame(0, index=expected, columns=list(ETL_VARIABLES))
        )
        for name in names:
            variable, statistic = split_signal_name(name)
            for bucket in expected.difference(present[(turbine, name)]):
                n = counts.at[bucket, variable]
                if (statistic in STATISTICS and n == 0) or result.samples == 0:  # an empty day writes nothing
                    reason = NO_SAMPLES
                elif statistic == "std" and n == 1:
                    reason = ONE_SAMPLE
                else:  # enough samples, or a measure the ETL writes for every bucket
                    reason = UNEXPLAINED
                result.missing.setdefault(reason, {}).setdefault(key(turbine, name), 0)
                result.missing[reason][key(turbine, name)] += 1
                firsts[reason] = min(firsts.get(reason, bucket), bucket)
    result.first_missing = {reason: stamp.strftime("%Y-%m-%dT%H:%MZ") for reason, stamp in firsts.items()}
    return result


@dataclass
class QualityVerdict:
    passed: bool
    description: str
    below: dict[str, float]


def quality_verdict(record: dict, min_share: float, where: str) -> QualityVerdict:
    """Every turbine's share of good samples of every variable (``record["quality"]``:
    ``{turbine: {variable: share}}``, as a run's record holds it) must reach ``min_share``; ``below`` names
    the ones that do not as ``turbine/variable``. ``where`` names the record in the description."""
    quality = record.get("quality")
    if not quality:
        return QualityVerdict(
            False,
            f"{where} holds no quality values, so the day's quality is unknown. Re-materialize the partition.",
            {},
        )
    shares = {
        key(turbine, variable): float(share) for turbine, per in quality.items() for variable, share in per.items()
    }
    below = {name: share for name, share in shares.items() if share < min_share}
    if not below:
        lowest = min(shares, key=shares.get)
        return QualityVerdict(
            True,
            f"Every turbine and variable has at least {min_share:.1%} good samples "
            f"({len(quality)} turbine(s); the lowest is {lowest} at {shares[lowest]:.1%}).",
            {},
        )
    return QualityVerdict(
        False,
        f"Below the threshold of {min_share:.1%} good samples: "
        + ", ".join(f"{name} {share:.1%}" for name, share in below.items())
        + f". The flags per check are in {where}.",
        below,
    )
