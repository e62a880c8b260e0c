"""``metrics``: the calculations, pure functions over frames, one place each.

- ``production``: energy, capacity factor, data availability;
- ``power_curve``: the method of bins (``wind_bins``, the one binning every power curve uses) and a
  turbine's expected power fitted on its history (``BinnedCurve``);
- ``quality``: daily summaries of the quality flags (good samples, shares, flag counts, flagged
  stretches, the lowest share of a day).

The pipeline, the reports and the orchestration call these; the reports only format and draw.
May import: ``core``, ``config``, ``storage``.
"""
