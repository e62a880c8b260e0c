"""``storage``: the databases. Engines (one per URL per process), the source and target schemas,
the run record (``etl_run``) and the queries that read results back.

May import: ``core``, ``config``.
"""
