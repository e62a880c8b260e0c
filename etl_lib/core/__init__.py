"""``core``: what every other part agrees on, with no I/O and nothing of ours imported.

- ``errors``: the one error hierarchy (facts as attributes, a message with what to do);
- ``dates``: run dates and the UTC day as ``[start, end)``;
- ``contract``: variables and units, sample period and bucket, statistics and signal names,
  media types, run statuses;
- ``scope``: the turbines and the UTC period a run covers;
- ``turbines``: turbine models and their power curves (what a turbine should produce at a wind
  speed), read from the CSV files of ``turbine_models``.

May import: the standard library and NumPy only. Everything in the project may import it.
"""
