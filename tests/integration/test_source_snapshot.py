"""One snapshot per run: the farm and the samples a run uses come from one state of the source.

Every answer that reads the source carries its version (``X-Source-Version``, raised by every
replacement of the source in the same transaction); the ETL compares the farm's and the samples'
versions, reads both again when they differ, and keeps the version it read in the run record. The
scenario of the issue is caused for real: ``etl seed`` replaces the source with another farm while a
run waits to ask ``/data`` again after a 503.
"""

from __future__ import annotations

import datetime as dt
import threading

import httpx
import pytest
from sqlalchemy import text

from etl_lib.core.contract import DEFAULT_PERIOD_START, SOURCE_VERSION_HEADER
from etl_lib.core.errors import SourceChangedError
from etl_lib.pipeline.run import SNAPSHOT_READS, run_etl
from etl_lib.storage.engines import target_engine
from etl_lib.storage.run_record import read_runs
from etl_lib.storage.source import source_version
from harness.fault_servers import FAST_RETRY, JSON, fault_server, proxy
from harness.own_farm import own_farm, seed, source_of

DAY = DEFAULT_PERIOD_START
PARAMS = {"start": "2024-10-01T00:00:00Z", "end": "2024-10-02T00:00:00Z", "variables": "power"}


@pytest.fixture()
def farm(settings):
    with own_farm(settings) as own:
        yield own


def test_every_answer_that_reads_the_source_carries_its_version_and_a_seed_raises_it(farm):
    first = seed(farm).version
    assert first == source_version(source_of(farm)) == 2  # 1 when made, 2 after the first seed
    with httpx.Client(base_url=farm.api_base_url, timeout=30) as api:
        answers = [
            api.get("/turbines"),
            api.get("/coverage"),
            api.get("/data", params=PARAMS),
            api.get("/data", params=PARAMS | {"format": "arrow"}),
        ]
        assert [answer.status_code for answer in answers] == [200] * 4
        assert [answer.headers[SOURCE_VERSION_HEADER] for answer in answers] == [str(first)] * 4
        assert seed(farm, turbines=2).version == first + 1
        assert api.get("/turbines").headers[SOURCE_VERSION_HEADER] == str(first + 1)
        assert api.get("/data", params=PARAMS).headers[SOURCE_VERSION_HEADER] == str(first + 1)
        assert (
            SOURCE_VERSION_HEADER
            in api.get("/openapi.json").json()["paths"]["/data"]["get"]["responses"]["200"]["headers"]
        )


def test_a_seed_landing_while_a_run_retries_data_after_a_503_never_mixes_two_farms(farm):
    """The old farm is four V90/2000; while the run waits to ask /data again after a 503, `etl seed`
    replaces it with four N90/2500 (more power at every wind speed). Mixing them flagged a clean day's
    power as out of range and over performing (WT01 at 79.9 % where a clean run gives 100 %); now the
    run sees the versions differ, reads the new farm and its samples, and says which version it read."""
    old = seed(farm, models=["V90/2000"]).version
    replaced = threading.Event()

    def respond(path: str, number: int, headers: dict):
        if path.startswith("/data") and not replaced.is_set():
            seed(farm, models=["N90/2500"])  # lands before the 503 goes out: the retry reads the new source
            replaced.set()
            return 503, b'{"detail": "injected failure"}', JSON
        return proxy(farm.api_base_url)(path, number, headers)

    with fault_server(respond) as server:
        fast = farm.model_copy(update=FAST_RETRY | {"api_url": server.url, "http_timeout": 60.0})
        result = run_etl(DAY, fast)
    new = source_version(source_of(farm))
    assert replaced.is_set() and new == old + 1
    assert result.source_version == new
    assert {turbine.model.name for turbine in result.turbines} == {"N90/2500"}
    assert result.summary()["quality"] == {
        f"WT0{n}": {"wind_speed": 1.0, "power": 1.0, "ambient_temperature": 1.0} for n in range(1, 5)
    }
    record = read_runs(target_engine(farm), DAY).iloc[-1]
    assert record["status"] == "succeeded" and record["source_version"] == new
    with target_engine(farm).connect() as conn:
        models = dict(conn.execute(text("SELECT name, model FROM turbine")).all())
    assert models == dict.fromkeys(["WT01", "WT02", "WT03", "WT04"], "N90/2500")


def test_a_source_that_keeps_changing_between_the_reads_fails_clearly_and_writes_nothing(farm):
    seed(farm)

    def respond(path: str, number: int, headers: dict):
        if path.startswith("/data"):  # each /data read finds the source replaced since /turbines
            with source_of(farm).begin() as conn:
                conn.execute(text("UPDATE source_state SET version = version + 1"))
        return proxy(farm.api_base_url)(path, number, headers)

    with fault_server(respond) as server:
        fast = farm.model_copy(update=FAST_RETRY | {"api_url": server.url})
        with pytest.raises(SourceChangedError) as raised:
            run_etl(DAY, fast)
    assert raised.value.reads == SNAPSHOT_READS
    message = str(raised.value)
    assert f"The source changed while the run of {DAY} read it {SNAPSHOT_READS} time(s) in a row" in message
    assert "nothing was written" in message and "What to do: Re-run the date once the source" in message
    record = read_runs(target_engine(farm), DAY).iloc[-1]
    assert record["status"] == "failed" and "The source changed" in record["error"]
    with target_engine(farm).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM data")).scalar_one() == 0


def test_an_api_without_source_versions_is_refused_as_older(farm):
    seed(farm)

    def respond(path: str, number: int, headers: dict):
        status, body, content_type, _passed = proxy(farm.api_base_url)(path, number, headers)
        return status, body, content_type  # the real answers, without their X-Source-Version

    with fault_server(respond) as server:
        with pytest.raises(Exception, match="has no valid X-Source-Version header: the API is older than this ETL"):
            run_etl(DAY, farm.model_copy(update=FAST_RETRY | {"api_url": server.url}))


def test_a_day_answer_is_read_in_one_snapshot_while_the_source_is_replaced(farm):
    """Answers asked while seeds replace the source again and again: each states a version, and holds
    exactly the farm and the rows of that version (four turbines of 1,440 samples, or two), never part
    of one and part of the other (PostgreSQL's TRUNCATE would show an older snapshot an empty table)."""
    seed(farm)
    stop = threading.Event()
    seeds: list = []

    def reseed() -> None:
        sizes = [2, 4]
        while not stop.is_set():
            try:
                seeds.append(seed(farm, turbines=sizes[0]).version)
            except Exception as exc:  # a seed must never fail for the readers (a deadlock, say)
                seeds.append(exc)
            sizes.reverse()

    seeding = threading.Thread(target=reseed)
    seeding.start()
    seen: dict[str, set] = {}
    try:
        with httpx.Client(base_url=farm.api_base_url, timeout=60) as api:
            deadline = dt.datetime.now() + dt.timedelta(seconds=20)
            while dt.datetime.now() < deadline and len(seen) < 4:
                answer = api.get("/data", params=PARAMS | {"variables": "power"})
                if answer.status_code == 503:  # a seed held the tables past the statement timeout
                    continue
                payload = answer.json()
                rows = payload["data"]
                shape = (tuple(payload["turbines"]), len(rows), len({row["turbine"] for row in rows}))
                seen.setdefault(answer.headers[SOURCE_VERSION_HEADER], set()).add(shape)
    finally:
        stop.set()
        seeding.join(timeout=120)
    assert seeds and all(isinstance(version, int) for version in seeds), seeds
    assert len(seen) >= 2, seen
    whole = {(("WT01", "WT02", "WT03", "WT04"), 4 * 1440, 4), (("WT01", "WT02"), 2 * 1440, 2)}
    for version, shapes in seen.items():
        assert len(shapes) == 1 and shapes <= whole, (version, shapes)
