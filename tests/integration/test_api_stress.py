"""The API under stress, with real parts (``harness/api_stress.py``; `make faults` prints the
same scenarios): an answer is whole or visibly broken, the database is never held at a client's
pace, a full API answers 503 with Retry-After at once, /health stays fast, and unfinished or
oversized headers cost nothing for long."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import httpx
import pytest
from sqlalchemy import text

from etl_lib.config.settings import API_READER_ROLE
from harness import api_stress as stress
from harness.fault_servers import serve_api

# /health's bounds are not speed targets (`make faults` prints its latencies): each is a fraction of what
# a /health queued behind the data answers would wait for, so a slow or loaded machine passes and a
# /health that waits its turn (or never answers: infinity) fails.
NOT_QUEUED = 1 / 3

DAY = {"start": "2024-10-02T00:00:00Z", "end": "2024-10-03T00:00:00Z", "variables": "power"}


@pytest.mark.parametrize("fmt", ["arrow", "json"])
def test_an_answer_whose_database_session_is_killed_mid_stream_ends_as_an_incomplete_read(settings, fmt):
    """Killed while it reads the chunks after the first: every client sees the end as broken. (A kill
    that lands just before the answer starts, or after the reading, gives a 503 or a whole answer; the
    scenario then tries again. A partial answer with a clean end must never happen.)"""
    outcome = stress.run_killed_session(settings, fmt)
    assert outcome.answers.get("httpx: 200, then incomplete read") == 1, outcome
    assert "incomplete chunked read" in outcome.facts["httpx"]
    assert not [ending for ending in outcome.answers if "PARTIAL" in ending], outcome
    if shutil.which("curl"):  # exit 18: "transfer closed with outstanding read data remaining"
        assert [ending for ending in outcome.answers if ending.startswith("curl: 200, then incomplete read (exit 18")]


def test_the_etl_refuses_an_answer_broken_mid_stream_and_asks_again(settings):
    outcome = stress.run_etl_killed_session(settings)
    assert outcome.succeeded, outcome.message
    assert outcome.api_requests == 2  # the broken answer, then a whole one
    assert outcome.target == "correct"  # every sample of the 60 days, none twice


def test_clients_that_do_not_read_hold_no_database_session_and_health_stays_fast(settings):
    outcome = stress.run_non_reading_clients(settings, clients=20)
    long_answers = settings.api_max_long_answers
    assert outcome.answers == {"200": long_answers, "503 + Retry-After": 20 - long_answers}, outcome
    held_s = settings.api_send_timeout_s  # the non-reading clients hold their answers this long
    assert outcome.health_worst_s < held_s * NOT_QUEUED, outcome.facts["health_s"]
    assert outcome.facts["day"][0] == 200 and outcome.facts["day"][1] < held_s * NOT_QUEUED
    sessions = outcome.facts["api_sessions"]
    assert "idle in transaction" not in sessions and "active" not in sessions, sessions
    assert sum(sessions.values()) <= settings.api_pool_size + 2  # the pool and /health's own
    assert outcome.facts["year_after"][0] == 200


def test_sixty_concurrent_requests_get_200_or_503_with_retry_after_never_500(settings):
    outcome = stress.run_concurrent_requests(settings, clients=60)
    assert set(outcome.answers) <= {"200", "503 + Retry-After"}, outcome
    assert outcome.answers.get("200", 0) >= 1
    assert outcome.health_worst_s < outcome.facts["slowest_answer_s"] * NOT_QUEUED, outcome.facts


def test_unfinished_and_oversized_headers_are_cut_off_in_time(settings):
    outcome = stress.run_unfinished_headers(settings, sockets=100)
    assert outcome.facts["still_open"] == 0, outcome
    assert outcome.answers == {"431 (1 MB of header)": 100, "408 (1 kB, then silence)": 100}, outcome
    assert outcome.facts["small_closed_by_s"] < settings.api_header_timeout_s + 3
    assert outcome.health_worst_s < settings.api_header_timeout_s * NOT_QUEUED
    before, _peak, after = outcome.memory_mib
    assert after - before < 30, outcome.memory_mib


# --- limits of an API with small ones (in-process, the same app and protocol) ----------------------


def test_a_client_that_reads_nothing_is_cut_off_after_the_send_timeout_and_frees_its_slot(settings):
    small = settings.model_copy(update={"api_send_timeout_s": 1.0, "api_max_long_answers": 1})
    year = stress.A_YEAR | {"variables": stress.VARIABLES, "format": "json"}
    with serve_api(small) as url:
        sock = stress._raw_request(small.model_copy(update={"api_url": url}), year)
        try:
            time.sleep(0.3)
            busy = httpx.get(f"{url}/data", params=year, timeout=10)
            assert busy.status_code == 503 and busy.headers["retry-after"] == "2"
            assert "ETL_API_MAX_LONG_ANSWERS" in busy.json()["detail"]
            deadline = time.monotonic() + 10
            while (answer := httpx.get(f"{url}/data", params=year, timeout=30)).status_code == 503:
                assert time.monotonic() < deadline, "the non-reading client kept its slot"
                time.sleep(0.2)
            assert answer.status_code == 200 and answer.json()["count"] == len(answer.json()["data"])
        finally:
            sock.close()


def test_a_full_pool_answers_503_with_retry_after_soon_not_500_and_not_a_hang(settings, source_engine):
    """One connection, held by a read that waits on a lock; the next request gets its 503 after the pool time-out."""
    small = settings.model_copy(update={"api_pool_size": 1, "api_pool_timeout_s": 0.5})
    with serve_api(small) as url, source_engine.connect() as locker:
        locker.execute(text("LOCK TABLE data IN ACCESS EXCLUSIVE MODE"))
        held = threading.Thread(target=httpx.get, args=(f"{url}/coverage",), kwargs={"timeout": 30})
        held.start()
        try:
            deadline = time.monotonic() + 10
            with source_engine.connect() as watcher:  # until the held request waits on the lock
                while not watcher.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE usename = :r AND wait_event_type = 'Lock'"),
                    {"r": API_READER_ROLE},
                ).scalar():
                    assert time.monotonic() < deadline
                    watcher.rollback()
                    time.sleep(0.02)
            started = time.perf_counter()
            answer = httpx.get(f"{url}/data", params=DAY, timeout=10)
            seconds = time.perf_counter() - started
        finally:
            locker.rollback()  # lets the held request finish
            held.join(30)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "2"
    assert "ETL_API_POOL_SIZE" in answer.json()["detail"]
    assert seconds > 0.4  # it waited for a session (the pool's time-out), then said so; a wait for the lock times out


def test_a_request_with_a_body_is_refused_before_the_app(settings):
    with socket.create_connection(("127.0.0.1", int(settings.api_base_url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        sock.settimeout(5)
        assert sock.recv(100).startswith(b"HTTP/1.1 413 ")


@pytest.mark.parametrize("read", [0, 1, "all"])
def test_a_long_answer_lets_go_of_its_spool_however_far_it_was_read(source_engine, read):
    """A long answer reads its chunks after the first into a spool in a thread. Closed before its first
    batch (a JSON client gone when the head was sent), after one, or read to the end: the spool's file
    closes and the thread stops, rather than reading the rest of the range for nobody."""
    import datetime as dt
    import itertools

    from api.samples import LongAnswer, Selection, Snapshot, sample_batches

    reading = Snapshot(source_engine)
    selection = Selection(reading.turbine_ids)
    start = dt.datetime(2024, 10, 1, tzinfo=dt.UTC)
    batches = sample_batches(reading, selection, ["power"], start, start + dt.timedelta(days=10))
    assert isinstance(batches, LongAnswer)  # ten days of the farm are more than one chunk
    spool = batches._spool
    rows = sum(b.num_rows for b in (batches if read == "all" else itertools.islice(batches, read)))
    assert (rows > 0) == (read != 0)
    batches.close()
    for reader in [t for t in threading.enumerate() if t.name == "api-samples-reader"]:
        reader.join(timeout=30)
        assert not reader.is_alive()
    assert spool._file.closed
