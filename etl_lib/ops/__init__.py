"""``ops``: running the project. The ``etl`` command (``cli``), ``etl doctor``, the embedded stack
(``stack``: the PostgreSQL server of ``embedded_postgres`` and the API process), and backfills of
many days through the library or the notebook (``backfill``).

May import: everything in ``etl_lib``.
"""
