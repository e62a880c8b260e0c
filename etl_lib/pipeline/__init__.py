"""``pipeline``: one UTC day from the API to the target, as stages wired in one place.

- ``extract``: the day's samples over HTTP (httpx, Arrow or JSON), retried, validated;
- ``extract_file``: the same samples from a SCADA export (CSV or Parquet), for ``etl check``;
- ``quality``: checks on the samples of a farm, one boolean flag per sample (flags, not deletions),
  each declared once in the registry ``CHECKS``;
- ``transform``: 10-minute statistics and per-bucket quality (pandas);
- ``load``: the day replaced in the target in one transaction (delete + COPY);
- ``run``: ``run_etl`` wires the stages and keeps the run record;
- ``check_file``: ``etl check`` wires a file's extract and the checks. No stage imports another.

May import: ``core``, ``config``, ``storage``, ``metrics``.
"""
