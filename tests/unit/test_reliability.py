"""The retry budget as configured: its deadline ends it after about 20 s. (Faults injected into real
parts: tests/integration/test_reliability.py.)"""

from __future__ import annotations

import datetime as dt

from etl_lib.config.settings import Settings
from etl_lib.pipeline.extract import RetryPolicy
from harness import fault_servers as faults

FAULT_DAY = dt.date(2024, 10, 8)

# scenario -> (error class name or None for success, API requests the server must have seen). A run asks
# for the farm (/turbines), then for the day (/data); a fault of the answer's content is on /data.
EXPECTED = {
    "API not running": ("SourceUnavailableError", None),
    "503 twice, then the real API": (None, 4),
    "503 on every request": ("SourceUnavailableError", 3),
    faults.HANGS: ("SourceUnavailableError", 3),
    "404 (not worth retrying)": ("SourceRequestError", 1),
    "malformed JSON": ("BadSourceDataError", 2),
    "a row outside the day": ("BadSourceDataError", 2),
    "a duplicated timestamp": ("BadSourceDataError", 2),
    "a value that is text": ("BadSourceDataError", 2),
    "a column missing": ("BadSourceDataError", 2),
    "Arrow stream cut short": ("SourceUnavailableError", 4),  # incomplete: asked for again, then given up
    "Arrow stream cut after a whole batch": ("SourceUnavailableError", 4),
    "JSON cut short": ("SourceUnavailableError", 4),
    "JSON without rows its count states": ("SourceUnavailableError", 4),
    "an answer cut once, then whole": (None, 3),
}
MESSAGE = {
    "API not running": "could not be reached (ConnectError",
    "503 on every request": "answered HTTP 503 (injected failure), 3 attempt(s) in a row",
    faults.HANGS: "could not be reached (ReadTimeout",
    "404 (not worth retrying)": "refused GET",
    "malformed JSON": "returned invalid JSON",
    "a row outside the day": "outside the requested day",
    "a duplicated timestamp": "appears twice",
    "a value that is text": "'power' is not a number",
    "a column missing": "exactly the fields",
    "Arrow stream cut short": "answered HTTP 200 (incomplete every time: the Arrow IPC stream breaks off",
    "Arrow stream cut after a whole batch": "incomplete every time: the Arrow IPC stream has no end-of-stream marker",
    "JSON cut short": "incomplete every time: the JSON document breaks off after",
    "JSON without rows its count states": "incomplete every time: it holds 5660 rows but states 5760",
}


def test_the_default_retry_budget_is_ended_by_its_deadline_after_20_s():
    """With the default settings the deadline, not the count, ends the retries, and the last
    attempt starts after 20 s: long enough for an API restart."""
    policy = RetryPolicy.from_settings(Settings())
    schedule = policy.schedule()
    assert len(schedule) < policy.retries + 1  # the count would allow more attempts
    assert 20 <= schedule[-1] < policy.deadline
    assert schedule == [0.0, 0.2, 0.6, 1.4, 3.0, 6.2, 11.2, 16.2, 21.2, 26.2]  # as docs/reliability.md says
