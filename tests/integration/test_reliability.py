"""Faults survived, bad answers refused, nothing lost: the ETL against misbehaving real parts.

Each API fault is a real HTTP server on a loopback port (``harness.fault_servers``), each database
fault a real ``pg_terminate_backend``; ``benchmarks/faults.py`` prints the same scenarios.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from etl_lib.core.errors import EtlError, SourceRequestError, SourceUnavailableError
from etl_lib.pipeline.extract import RetryPolicy, get, make_client
from etl_lib.pipeline.run import run_etl
from harness import fault_servers as faults
from harness import process_faults
from harness.stack import free_port

FAULT_DAY = dt.date(2024, 10, 8)

# scenario -> (error class name or None for success, API requests the server must have seen). A run asks
# for the fleet's farms (/farms), for its farm's turbines (/turbines), then for the day (/data) and, at the
# same time, for its status log (/events: asked for once, also when /data then fails); a fault of the
# answer's content is on /data.
EXPECTED = {
    "API not running": ("SourceUnavailableError", None),
    "503 twice, then the real API": (None, 6),
    "503 on every request": ("SourceUnavailableError", 3),
    faults.HANGS: ("SourceUnavailableError", 3),
    "404 (not worth retrying)": ("SourceRequestError", 1),
    "malformed JSON": ("BadSourceDataError", 4),
    "a row outside the day": ("BadSourceDataError", 4),
    "a duplicated timestamp": ("BadSourceDataError", 4),
    "a value that is text": ("BadSourceDataError", 4),
    "a column missing": ("BadSourceDataError", 4),
    "Arrow stream cut short": ("SourceUnavailableError", 6),  # incomplete: asked for again, then given up
    "Arrow stream cut after a whole batch": ("SourceUnavailableError", 6),
    "JSON cut short": ("SourceUnavailableError", 6),
    "JSON without rows its count states": ("SourceUnavailableError", 6),
    "an answer cut once, then whole": (None, 5),
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


def test_every_scenario_has_an_expectation(settings):
    assert set(faults.api_scenarios(settings.api_base_url)) == set(EXPECTED)


@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_api_fault_is_survived_or_fails_clearly_and_the_target_is_kept(settings, scenario):
    error, requests = EXPECTED[scenario]
    outcome = faults.run_api_fault(scenario, settings, FAULT_DAY)

    assert outcome.error == error, outcome.message
    assert outcome.succeeded is (error is None)
    assert outcome.target == ("correct" if error is None else "unchanged")
    if requests is not None:
        assert outcome.api_requests == requests
    if error is not None:
        assert MESSAGE[scenario] in outcome.message
        assert "What to do:" in outcome.message


def test_target_connection_killed_mid_load_keeps_the_previous_rows(settings, capfd):
    outcome = faults.run_terminated_load(settings, dt.date(2024, 10, 9))
    # psycopg2's stray report of the terminated COPY (a SystemError caused by AdminShutdown, handed to
    # sys.excepthook) is dropped by the library's COPY (storage.copy), so nothing but the error shows.
    assert "SystemError" not in capfd.readouterr().err
    assert outcome.error == "TargetWriteError", outcome.message
    assert outcome.target == "unchanged"
    assert "failed and was rolled back" in outcome.message
    assert "previous rows are intact" in outcome.message


def test_eight_concurrent_runs_threads_and_cli_processes_leave_one_copy_and_no_failure(settings):
    outcome = faults.run_concurrent(settings, dt.date(2024, 10, 7), threads=4, processes=4)
    assert outcome.succeeded, outcome.message
    assert outcome.target == "correct"


def test_retries_stop_at_the_deadline_before_the_attempt_budget(settings):
    """Attempts are bounded by time as well as by count: 50 retries allowed, a 1.2 s deadline."""
    with faults.fault_server(faults.fixed(503, b"{}")) as server:
        client = httpx.Client(base_url=server.url, timeout=5)
        with client, pytest.raises(SourceUnavailableError):
            get(client, "/data", {}, retry=RetryPolicy(retries=50, backoff=0.2, deadline=1.2))
        assert 2 <= server.requests < 10


def test_an_api_restart_of_20_s_is_survived_with_the_default_settings(settings):
    """A real API process stopped, and started again 20 s later while the run retries."""
    outcome = process_faults.run_api_restart(settings, dt.date(2024, 10, 4), down_seconds=20.0)
    assert outcome.succeeded, outcome.message
    assert outcome.target == "correct"
    assert outcome.api_requests > 5  # it did retry, for the 20 s
    assert outcome.seconds >= 20


def test_4xx_is_never_retried_even_with_a_large_budget(settings):
    with faults.fault_server(faults.fixed(422, b'{"detail": "bad parameter"}')) as server:
        client = httpx.Client(base_url=server.url, timeout=5)
        with client, pytest.raises(SourceRequestError, match="HTTP 422: bad parameter"):
            get(client, "/data", {}, retry=RetryPolicy(retries=10, backoff=0.01, deadline=60))
        assert server.requests == 1


def test_the_client_sends_the_token_only_when_configured(settings):
    seen = []

    def record(path, number, headers):
        seen.append(headers.get("Authorization"))
        return 200, b"{}", faults.JSON

    with faults.fault_server(record) as server:
        for token in (None, "s3cret"):
            configured = settings.model_copy(update={"api_url": server.url, "api_token": token and SecretStr(token)})
            with make_client(configured) as client:
                get(client, "/anything", {}, retry=RetryPolicy.from_settings(configured))
    assert seen == [None, "Bearer s3cret"]


def test_the_client_verifies_certificates_of_an_https_api_and_skips_tls_for_plain_http(settings):
    """An ``https`` API keeps httpx's certificate and host-name checks; a plain-HTTP one does not load
    the CA bundle it would never use (the start-up cost ``make_client`` avoids)."""
    import ssl

    def tls_context(url: str) -> ssl.SSLContext:
        with make_client(settings.model_copy(update={"api_url": url})) as client:
            return client._transport._pool._ssl_context  # httpx 0.28: the pool of the default transport

    secure = tls_context("https://api.example.invalid:8443")
    assert secure.verify_mode == ssl.CERT_REQUIRED and secure.check_hostname
    assert tls_context(settings.api_base_url).verify_mode == ssl.CERT_NONE  # http://127.0.0.1:...


def _etl(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "etl"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_cli_prints_the_message_without_traceback_and_exits_non_zero(settings):
    down = f"http://127.0.0.1:{free_port()}"
    env = {"ETL_API_URL": down, "ETL_HTTP_RETRIES": "1", "ETL_HTTP_BACKOFF": "0.01"}
    quiet = _etl("run", "2024-10-02", "--no-report", env=env)
    assert quiet.returncode == 1
    said, _, error = quiet.stderr.partition("error: ")
    assert error.startswith("The API at ") and "could not be reached" in error and "What to do:" in error
    assert [line for line in said.splitlines() if "retrying in" not in line] == []  # before it: the retries
    assert "Traceback" not in quiet.stderr

    verbose = _etl("--verbose", "run", "2024-10-02", "--no-report", env=env)
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and "SourceUnavailableError" in verbose.stderr


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("1.10.2024", "not a date in the form YYYY-MM-DD"),
        ("2024-02-30", "does not exist on the calendar"),
        ((dt.date.today() + dt.timedelta(days=3)).isoformat(), "is not over yet"),
        ("2023-01-01", "no samples for 2023-01-01"),
    ],
)
def test_each_bad_date_has_its_own_error_and_writes_nothing(settings, target_engine, date, message):
    with target_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*), coalesce(sum(value::numeric), 0) FROM data")).one()
    with pytest.raises(EtlError, match=message) as raised:
        run_etl(date, settings)
    assert raised.value.fix  # every one says what to do
    with target_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*), coalesce(sum(value::numeric), 0) FROM data")).one() == before


def test_dropped_database_connections_are_replaced_not_reported(settings, api):
    """The API's and the ETL's pooled connections killed between requests: the next ones just work."""
    day = {"start": "2024-10-02T00:00:00Z", "end": "2024-10-03T00:00:00Z", "variables": "power"}
    assert api.get("/data", params=day).status_code == 200  # the API's pool now holds a connection
    run_etl("2024-10-02", settings)  # and so does the ETL's target pool
    kill = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
    )
    killer = create_engine(settings.source_url, poolclass=NullPool)  # not a pooled connection of the ETL
    with killer.connect() as conn:
        assert conn.execute(text(kill), {"db": "source"}).scalar_one() >= 1
        assert conn.execute(text(kill), {"db": "target"}).scalar_one() >= 1
    killer.dispose()

    assert api.get("/data", params=day).status_code == 200
    assert run_etl("2024-10-02", settings).rows_written > 0


def test_nan_infinities_and_1e308_give_the_same_result_through_arrow_and_json(settings):
    outcome = faults.run_non_finite_formats(settings)
    assert outcome.succeeded, outcome.message
    assert outcome.target == (
        "correct: the same from both, non_finite flags {'WT01': {'power': 1, "
        "'ambient_temperature': 1}, 'WT02': {'power': 1}, 'WT03': {'wind_speed': 1}}"
    )
