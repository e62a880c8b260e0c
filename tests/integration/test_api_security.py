"""The API refuses what it should: writes by its role, callers without the token, hostile input;
and its errors never show the client a traceback, SQL or a connection string."""

from __future__ import annotations

import datetime as dt
import socket

import httpx
import pyarrow as pa
import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from api.engine import read_only_engine
from etl_lib.config.settings import API_READER_ROLE, API_READER_ROLE_SETTINGS, Settings
from etl_lib.core.errors import SourceRequestError
from etl_lib.pipeline.run import run_etl
from harness.fault_servers import serve_api

DAY = {"start": "2024-10-01T00:00:00Z", "end": "2024-10-02T00:00:00Z"}
VALID_VARIABLES = "wind_speed,power,ambient_temperature"
# What must never reach a client: internals of the server, the database or its address.
LEAKS = ("Traceback", "psycopg2", "sqlalchemy", "postgresql", "SELECT ", " FROM ", 'File "', "pgdata", "api_reader")

WRITES = [
    "INSERT INTO data (\"timestamp\", wind_speed) VALUES ('2030-01-01T00:00:00Z', 1)",
    "UPDATE data SET power = 0",
    "DELETE FROM data",
    "TRUNCATE data",
    "ALTER TABLE data ADD COLUMN evil int",
    "DROP TABLE data",
    "CREATE TABLE evil (x int)",
    "CREATE INDEX evil ON data (power)",
]


def assert_no_leak(response: httpx.Response) -> None:
    for marker in LEAKS:
        assert marker not in response.text, f"{marker!r} leaked in {response.text[:300]!r}"


@pytest.fixture(scope="module")
def reader_engine(settings):
    """The API's role, connected with the read-only session setting turned off: only its privileges protect."""
    engine = create_engine(settings.api_source_url, connect_args={"options": "-c default_transaction_read_only=off"})
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def plain_reader_engine(settings):
    """The API's role, connected directly with nothing asked for: what the role itself sets."""
    engine = create_engine(settings.api_source_url)
    yield engine
    engine.dispose()


def test_api_role_is_the_read_only_reader(settings):
    assert f"//{API_READER_ROLE}@" in settings.api_source_url


@pytest.mark.parametrize("statement", WRITES)
def test_api_role_cannot_write_the_source(reader_engine, source_engine, statement):
    with source_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*), sum(power) FROM data")).one()
    with reader_engine.connect() as conn:
        with pytest.raises(DBAPIError, match=r"permission denied|must be owner"):
            conn.execute(text(statement))
        conn.rollback()
        assert conn.execute(text("SELECT count(*), sum(power) FROM data")).one() == before  # it can read


def test_api_role_has_select_and_nothing_else_on_the_table(source_engine):
    with source_engine.connect() as conn:
        granted = {
            privilege: conn.execute(
                text("SELECT has_table_privilege(:role, 'data', :p)"), {"role": API_READER_ROLE, "p": privilege}
            ).scalar_one()
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
        }
    assert granted == {"SELECT": True, **{p: False for p in granted if p != "SELECT"}}


def test_the_role_itself_is_read_only_time_bounded_and_may_not_make_temporary_tables(
    plain_reader_engine, source_engine
):
    """Whoever connects as the API's role, and however: its session defaults come from the role, and
    a session that turns read-only off still may not create a temporary table."""
    with plain_reader_engine.connect() as conn:
        shown = {name: conn.execute(text(f"SHOW {name}")).scalar_one() for name in API_READER_ROLE_SETTINGS}
        assert (
            shown
            == API_READER_ROLE_SETTINGS
            == {
                "default_transaction_read_only": "on",
                "statement_timeout": "30s",
                "idle_in_transaction_session_timeout": "10s",
            }
        )
        with pytest.raises(DBAPIError, match="read-only transaction"):
            conn.execute(text("CREATE TEMP TABLE evil (x int)"))
        conn.rollback()
        conn.execute(text("SET default_transaction_read_only = off"))
        conn.commit()  # the next transaction is read-write
        with pytest.raises(DBAPIError, match="permission denied to create temporary tables"):
            conn.execute(text("CREATE TEMP TABLE evil (x int)"))
        conn.rollback()
    with source_engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT has_database_privilege(:r, current_database(), 'TEMPORARY')"), {"r": API_READER_ROLE}
            ).scalar_one()
            is False
        )


def test_api_sessions_are_read_only_and_time_bounded(settings):
    """The API's own engine: read-only transactions and a statement timeout, even for a role that could write."""
    timeout_ms = Settings.model_fields["api_statement_timeout_ms"].default
    assert settings.api_statement_timeout_ms == timeout_ms
    with read_only_engine(settings.source_url, timeout_ms).connect() as conn:  # the superuser URL on purpose
        assert conn.execute(text("SHOW default_transaction_read_only")).scalar_one() == "on"
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == f"{timeout_ms // 1000}s"
        assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar_one() == "10s"
        with pytest.raises(DBAPIError, match="read-only transaction"):
            conn.execute(text("UPDATE data SET power = 0"))


def test_a_statement_over_the_timeout_is_cancelled(settings):
    engine = read_only_engine(settings.api_source_url, 200)
    with engine.connect() as conn, pytest.raises(DBAPIError, match="canceling statement due to statement timeout"):
        conn.execute(text("SELECT pg_sleep(5)"))


def test_a_cancelled_query_is_a_plain_503_and_the_server_keeps_answering(settings, caplog):
    """An API whose statements may run 1 ms: reading a week (~10,000 rows, sorted) is cancelled, not held."""
    week = {"start": "2024-10-01T00:00:00Z", "end": "2024-10-08T00:00:00Z", "variables": VALID_VARIABLES}
    with serve_api(settings.model_copy(update={"api_statement_timeout_ms": 1})) as url, caplog.at_level("ERROR", "api"):
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(3):
                answer = client.get("/data", params=week)
                assert answer.status_code == 503
                assert answer.json() == {"detail": "The source database is unavailable. Try again later."}
            assert client.get("/variables").status_code == 200
    assert "canceling statement due to statement timeout" in caplog.text  # the server's log says why


# --- bearer token -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def token_api(settings):
    with serve_api(settings.model_copy(update={"api_token": SecretStr("t0ken-for-tests")})) as url:
        yield url


@pytest.mark.parametrize("path", ["/data", "/variables", "/coverage", "/openapi.json", "/docs"])
@pytest.mark.parametrize("header", [None, "Bearer wrong", "t0ken-for-tests", "Basic t0ken-for-tests"])
def test_with_a_token_configured_every_route_but_health_needs_it(token_api, path, header):
    headers = {"Authorization": header} if header else {}
    response = httpx.get(
        f"{token_api}{path}", params=DAY | {"variables": "power"} if path == "/data" else None, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "ETL_API_TOKEN" in response.json()["detail"]
    assert "t0ken-for-tests" not in response.text


def test_with_the_token_the_routes_answer_and_health_is_open(token_api, api):
    auth = {"Authorization": "Bearer t0ken-for-tests"}
    assert httpx.get(f"{token_api}/health").status_code == 200
    assert httpx.get(f"{token_api}/variables", headers=auth).status_code == 200
    data = httpx.get(f"{token_api}/data", params=DAY | {"variables": "power"}, headers=auth)
    assert data.status_code == 200
    assert data.json() == api.get("/data", params=DAY | {"variables": "power"}).json()


def test_the_etl_sends_the_token_and_without_it_fails_clearly(settings, token_api):
    with_token = settings.model_copy(update={"api_url": token_api, "api_token": SecretStr("t0ken-for-tests")})
    assert run_etl("2024-10-06", with_token).rows_written > 0

    without = settings.model_copy(update={"api_url": token_api, "api_token": None})
    with pytest.raises(SourceRequestError, match="HTTP 401: Missing or wrong bearer token") as raised:
        run_etl("2024-10-06", without)
    assert "ETL_API_TOKEN" in str(raised.value)


def test_without_a_token_configured_no_route_asks_for_one(settings, api):
    assert settings.api_token is None
    assert api.get("/variables").status_code == 200


# --- errors do not leak -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def broken_db_api(settings):
    """The real API pointed at a database that does not exist on the real server."""
    broken = settings.api_source_url.replace("/source?", "/no_such_database?")
    assert broken != settings.api_source_url
    with serve_api(settings.model_copy(update={"api_database_url": broken})) as url:
        yield url


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/data", DAY | {"variables": "power"}),
        ("/data", DAY | {"variables": "power", "format": "arrow"}),
        ("/coverage", None),
        ("/health", None),
    ],
)
def test_database_failure_is_a_plain_503_without_details(broken_db_api, path, params):
    response = httpx.get(f"{broken_db_api}{path}", params=params)
    assert response.status_code == 503
    assert response.json() == {"detail": "The source database is unavailable. Try again later."}
    assert_no_leak(response)


# --- hostile input ----------------------------------------------------------------------------

HOSTILE = {
    "SQL in variables": DAY | {"variables": "power; DROP TABLE data; --"},
    "SQL tautology in variables": DAY | {"variables": "power' OR '1'='1"},
    "SQL in start": {"start": "2024-10-01'; DELETE FROM data; --", "end": DAY["end"], "variables": "power"},
    "quoted identifier": DAY | {"variables": '"power"'},
    "very long variable": DAY | {"variables": "w" * 20_000},
    "very long start": {"start": "2" * 5_000, "end": DAY["end"], "variables": "power"},
    "reversed range": {"start": DAY["end"], "end": DAY["start"], "variables": "power"},
    "absurd range": {"start": "0001-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z", "variables": "power"},
    "year out of range": {"start": "99999-01-01", "end": DAY["end"], "variables": "power"},
    "offset out of range": {"start": "2024-10-01T00:00:00+25:00", "end": DAY["end"], "variables": "power"},
    "non-ASCII variable": DAY | {"variables": "windgeschwindigkeit_ü,風速"},
    "non-ASCII digits in start": {"start": "２０２４-10-01", "end": DAY["end"], "variables": "power"},
    "NUL byte": DAY | {"variables": "power\x00"},
    "empty variables": DAY | {"variables": ","},
    "unknown format": DAY | {"variables": "power", "format": "xml"},
    "unknown parameter": DAY | {"variables": "power", "limit": "1"},
}
REPEATED = {
    "repeated start": [
        ("start", DAY["start"]),
        ("start", "2024-09-01T00:00:00Z"),
        ("end", DAY["end"]),
        ("variables", "power"),
    ],
    "repeated end": [("start", DAY["start"]), ("end", DAY["end"]), ("end", DAY["end"]), ("variables", "power")],
    "repeated format": list(DAY.items()) + [("variables", "power"), ("format", "json"), ("format", "arrow")],
}


@pytest.mark.parametrize("case", list(HOSTILE) + list(REPEATED))
def test_hostile_input_gets_a_4xx_that_explains(api, source_engine, case):
    params = HOSTILE.get(case) or REPEATED[case]
    count = text("SELECT count(*), sum(power) FROM data")
    with source_engine.connect() as conn:
        before = conn.execute(count).one()
    response = api.get("/data", params=params)
    assert 400 <= response.status_code < 500, response.text[:300]
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]
    assert "Traceback" not in response.text and "psycopg2" not in response.text
    with source_engine.connect() as conn:  # and the table is still there, whole
        assert conn.execute(count).one() == before


@pytest.mark.parametrize(
    ("name", "value"), [("start", "0001-01-01T00:00:00+14:00"), ("end", "9999-12-31T23:59:59-12:00")]
)
def test_an_instant_outside_the_calendar_once_in_utc_is_a_422_that_names_it(api, name, value):
    params = {"start": "2024-10-01T00:00:00Z", "end": "2024-10-02T00:00:00Z", "variables": "power", name: value}
    response = api.get("/data", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == (
        f"Parameter '{name}' = '{value}' lies outside the years 1 to 9999 once converted to UTC. "
        "Use an instant from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z."
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [("0001-01-01T00:00:00Z", "0001-01-08T00:00:00-01:00"), ("9999-12-20T00:00:00Z", "9999-12-31T23:59:59.999999Z")],
)
@pytest.mark.parametrize("fmt", ["json", "arrow"])
def test_the_first_and_last_days_of_the_calendar_are_valid_empty_answers(api, start, end, fmt):
    response = api.get("/data", params={"start": start, "end": end, "variables": "power", "format": fmt})
    assert response.status_code == 200, response.text
    if fmt == "json":
        assert response.json()["count"] == 0
    else:
        assert pa.ipc.open_stream(response.content).read_all().num_rows == 0


def test_a_range_over_the_maximum_says_how_to_page(api, settings):
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=settings.max_range_days + 1)
    response = api.get("/data", params={"start": start.isoformat(), "end": end.isoformat(), "variables": "power"})
    assert response.status_code == 422
    assert f"at most {settings.max_range_days} days" in response.json()["detail"]


def test_repeated_variables_are_still_allowed(api):
    response = api.get("/data", params=[*DAY.items(), ("variables", "power"), ("variables", "wind_speed")])
    assert response.status_code == 200
    assert response.json()["variables"] == ["power", "wind_speed"]


@pytest.mark.parametrize("path", ["/variables", "/coverage", "/health", "/turbines", "/farms"])
def test_unknown_parameters_are_refused_on_every_route(api, path):
    response = api.get(path, params={"debug": "1"})
    assert response.status_code == 422
    assert "Unknown query parameter(s) 'debug'" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/variables", "/health", "/farms"])
def test_a_route_without_parameters_says_it_takes_none(api, path):
    detail = api.get(path, params={"x": "1"}).json()["detail"]
    assert detail == "Unknown query parameter(s) 'x'. This route takes none."


@pytest.mark.parametrize("path", ["/coverage", "/turbines"])
def test_a_route_of_one_farm_says_it_takes_farm(api, path):
    detail = api.get(path, params={"x": "1"}).json()["detail"]
    assert detail == "Unknown query parameter(s) 'x'. Allowed: farm."


def test_the_data_route_names_the_parameters_it_takes(api):
    detail = api.get("/data", params={**DAY, "variables": "power", "x": "1"}).json()["detail"]
    assert detail.startswith("Unknown query parameter(s) 'x'. Allowed: ")
    assert all(name in detail for name in ("start", "end", "variables", "turbines", "format"))


def _raw_request(port: int, head: bytes) -> bytes:
    """``head`` sent at once on a fresh connection; the API's whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _filled_head(headers: int) -> bytes:
    """A GET of /health with ``headers`` headers of about 1,000 bytes each, complete."""
    filler = b"".join(b"X-Fill-%d: %s\r\n" % (i, b"a" * 990) for i in range(headers))
    return b"GET /health HTTP/1.1\r\nHost: localhost\r\n" + filler + b"Connection: close\r\n\r\n"


@pytest.mark.parametrize("headers", [70, 1_000])
def test_complete_headers_over_the_limit_get_431_like_incomplete_ones(settings, headers):
    """Headers that arrive whole in one send are held to the limit too (70,000 bytes of them got 200
    while only headers still arriving were counted)."""
    head = _filled_head(headers)
    assert len(head) > settings.api_max_header_bytes
    answer = _raw_request(settings.api_port, head)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_complete_headers_under_the_limit_are_answered(settings):
    head = _filled_head(60)
    assert 60_000 < len(head) < settings.api_max_header_bytes
    answer = _raw_request(settings.api_port, head)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


def _raw_get(port: int, target: str) -> tuple[int, str]:
    """A GET sent byte for byte (httpx refuses URLs this long or malformed): status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


@pytest.mark.parametrize(
    "query",
    [
        "start=2024-10-01&end=2024-10-02&variables=" + "w" * 200_000,
        "start=2024-10-01&end=2024-10-02" + "&variables=power" * 5_000,
        "start=%ZZ&end=2024-10-02&variables=power",
        "start=2024-10-01%00&end=2024-10-02&variables=power",
        "start=2024-10-01&end=2024-10-02&variables=%ff%fe",
    ],
    ids=["200 kB variable", "5000 repeats", "bad percent-escape", "NUL", "invalid UTF-8"],
)
def test_oversized_or_malformed_request_lines_get_a_4xx(settings, query):
    status, body = _raw_get(settings.api_port, f"/data?{query}")
    assert 400 <= status < 500, body[:200]
    assert "Traceback" not in body and "psycopg2" not in body
