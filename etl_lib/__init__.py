"""Wind-turbine ETL: source API -> quality checks -> 10-minute statistics -> target database.

Packages by concern, imports pointing one way (``pyproject.toml``'s import contracts, checked by
the tests): ``core`` <- ``config`` <- ``storage`` <- ``pipeline`` <- ``reports`` | ``orchestration``
<- ``ops``; ``simulation`` uses ``core`` and ``storage``. Importing this package imports nothing
else, so the API (which uses ``core`` and ``config`` only) never loads pandas.
"""
