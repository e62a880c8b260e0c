"""``metrics``: the calculations, pure functions over frames, one place each.

- ``production``: energy, capacity factor, data availability;
- ``power_curve``: the method of bins (``wind_bins``, the one binning every power curve uses) and a
  turbine's expected power fitted on its history (``BinnedCurve``);
- ``quality``: daily summaries of the quality flags (good samples, shares, flag counts, flagged
  stretches, the lowest share of a day);
- ``farm``: the farm's reference of each turbine (the other turbines' median);
- ``availability``: each minute's IEC 61400-26-1 category (the status log, else inferred) and
  time-based availability in the user's and the manufacturer's view;
- ``potential``: potential power by a cascade of estimates (own curve, neighbours' wind, the farm);
- ``kpis``: a day's and a period's KPIs: energy, potential, lost production by group, availabilities,
  capacity factor, data availability.

The pipeline, the reports and the orchestration call these; the reports only format and draw.
May import: ``core``, ``config``, ``storage``.
"""
