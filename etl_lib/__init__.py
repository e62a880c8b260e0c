"""Wind-turbine ETL: source API -> quality checks -> 10-minute statistics -> target database.

Packages by concern, imports pointing one way (``pyproject.toml``'s import contracts, checked by
the tests): ``core`` <- ``config`` <- ``storage`` <- ``pipeline`` <- ``reports`` | ``orchestration``
<- ``ops``; ``simulation`` uses ``core`` and ``storage``. Importing this package imports nothing
else, so the API (which uses ``core`` and ``config`` only) never loads pandas.
"""

import sys

# httpx imports its own command-line client (click, rich, pygments: 0.05-0.1 s of every process that
# fetches) whenever click is installed, and Dagster and uvicorn install it; no process of this project
# runs that client. An entry of None makes that optional import fail the way httpx expects when its
# "cli" extra is absent (httpx then defines a stub ``main``); an httpx imported earlier is left as it is.
sys.modules.setdefault("httpx._main", None)
