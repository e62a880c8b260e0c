"""The verdicts behind Dagster's asset checks, as plain functions of data (no Dagster here).

``bucket_completeness`` says whether a day has every 10-minute bucket of every signal in
the target (every signal the ETL writes) and, when not, why not (from the day's samples); ``quality_verdict`` compares
the shares of good samples the notebook recorded with a threshold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from .dates import day_bounds
from .target_schema import ETL_VARIABLES, STATISTICS, etl_signal_names
from .transform import BUCKET

BUCKETS_PER_DAY = 144

NO_SAMPLES = "the source has no samples of the variable in the bucket"
ONE_SAMPLE = "the bucket has a single sample, so its standard deviation is undefined"
UNEXPLAINED = "not explained by the source data; re-materialize the partition"


def _variable_and_statistic(name: str) -> tuple[str, str]:
    variable = next(v for v in ETL_VARIABLES if name.startswith(f"{v}_"))
    return variable, name[len(variable) + 1 :]


def day_buckets(run_date: dt.date) -> pd.DatetimeIndex:
    """The day's 144 bucket starts (UTC)."""
    start, end = day_bounds(run_date)
    return pd.date_range(start, end, freq=BUCKET, inclusive="left")


@dataclass
class Completeness:
    run_date: dt.date
    buckets: dict[str, int]  # signal -> buckets written
    missing: dict[str, dict[str, int]] = field(default_factory=dict)  # reason -> {signal: n}
    first_missing: dict[str, str] = field(default_factory=dict)  # reason -> first bucket start
    note: str | None = None  # why the reasons could not be worked out, if they could not
    samples: int | None = None  # the day's samples in the source, when they were fetched

    @property
    def passed(self) -> bool:
        return all(n == BUCKETS_PER_DAY for n in self.buckets.values())

    @property
    def explained_by_source(self) -> bool:
        """Every missing bucket is accounted for by the source data (an outage, a lone sample):
        the ETL did its job, so this is worth a warning, not an error."""
        return not self.passed and self.note is None and bool(self.missing) and UNEXPLAINED not in self.missing

    def describe(self) -> str:
        day = self.run_date.isoformat()
        if self.passed:
            return f"{day}: all {len(self.buckets)} signals have {BUCKETS_PER_DAY} buckets."
        if not any(self.buckets.values()):
            lines = [f"{day}: nothing is written in the target for this day"]
            if self.samples == 0:
                lines[0] += ", and the source has no samples for it either: there is nothing to write."
            elif self.samples:
                lines[0] += f", though the source has {self.samples} samples: materialize this partition."
            else:
                lines[0] += ": materialize this partition."
        else:
            short = ", ".join(f"{name} {n}" for name, n in self.buckets.items() if n != BUCKETS_PER_DAY)
            lines = [f"{day}: buckets written of {BUCKETS_PER_DAY}: {short}."]
            for reason, per_signal in self.missing.items():
                counts = ", ".join(f"{name} {n}" for name, n in per_signal.items())
                lines.append(f"Missing because {reason} (first at {self.first_missing[reason]}): {counts}.")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def bucket_completeness(
    run_date: dt.date, written: pd.DataFrame, samples: pd.DataFrame | None = None, note: str | None = None
) -> Completeness:
    """Buckets per signal in ``written`` (long: ``timestamp, signal, value``) for the day.

    ``samples`` (the day's samples, as ``fetch_day`` returns them) explain the missing
    buckets; without them only the counts are known and ``note`` says why.
    """
    expected = day_buckets(run_date)
    names = etl_signal_names()
    present = {
        name: pd.DatetimeIndex(written.loc[written["signal"] == name, "timestamp"]).intersection(expected)
        for name in names
    }
    result = Completeness(run_date, {name: len(index) for name, index in present.items()}, note=note)
    if result.passed or samples is None:
        return result
    result.samples = len(samples)
    counts = (
        samples.reindex(columns=list(ETL_VARIABLES))
        .resample(BUCKET, label="left", closed="left", origin="epoch")
        .count()
        .reindex(expected, fill_value=0)
    )
    firsts: dict[str, pd.Timestamp] = {}
    for name in names:
        variable, statistic = _variable_and_statistic(name)
        for bucket in expected.difference(present[name]):
            n = counts.at[bucket, variable]
            if (statistic in STATISTICS and n == 0) or result.samples == 0:  # an empty day writes nothing
                reason = NO_SAMPLES
            elif statistic == "std" and n == 1:
                reason = ONE_SAMPLE
            else:  # enough samples, or a measure the ETL writes for every bucket
                reason = UNEXPLAINED
            result.missing.setdefault(reason, {}).setdefault(name, 0)
            result.missing[reason][name] += 1
            firsts[reason] = min(firsts.get(reason, bucket), bucket)
    result.first_missing = {reason: stamp.strftime("%Y-%m-%dT%H:%MZ") for reason, stamp in firsts.items()}
    return result


@dataclass
class QualityVerdict:
    passed: bool
    description: str
    below: dict[str, float]


def quality_verdict(recorded: dict, min_share: float, report: str) -> QualityVerdict:
    """Every variable's share of good samples (``recorded["quality"]``) must reach ``min_share``."""
    quality = recorded.get("quality")
    if not quality:
        return QualityVerdict(
            False,
            f"{report} records no quality values, so the day's quality is unknown. "
            "Re-materialize the partition with a notebook that runs the data-quality step.",
            {},
        )
    below = {variable: float(share) for variable, share in quality.items() if share < min_share}
    if not below:
        return QualityVerdict(
            True,
            f"Every variable has at least {min_share:.1%} good samples: "
            + ", ".join(f"{v} {float(s):.1%}" for v, s in quality.items())
            + ".",
            {},
        )
    return QualityVerdict(
        False,
        f"Below the threshold of {min_share:.1%} good samples: "
        + ", ".join(f"{v} {s:.1%}" for v, s in below.items())
        + f". The flags per check are in {report}.",
        below,
    )
