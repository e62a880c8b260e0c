"""A day's samples as the ETL reads them, from the API (``extract``) or from a file (``extract_file``): kept apart
from the API client so that checking a file does not load it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..core.fingerprints import SourceFingerprints


@dataclass
class Samples:
    """A day's samples: ``values`` indexed by ``(turbine, timestamp)``, one float column per variable (NaN
    where the value is null or not a finite number); ``non_finite`` of the same shape, True where the
    source sent NaN or ±Infinity (not a reading: flagged, and left out of the statistics); ``version``
    the source's version they were read from (None for a file)."""

    values: pd.DataFrame
    non_finite: pd.DataFrame = field(repr=False)
    version: int | None = None
    # The fingerprints of the day and the newest sample, read in the same snapshot as the samples (None: an
    # API from before the fingerprints, or a file).
    fingerprints: SourceFingerprints | None = None

    def __len__(self) -> int:
        return len(self.values)
