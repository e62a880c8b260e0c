"""`etl doctor` names the part that is down: configuration, database or API, each tried for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from etl_lib.ops.doctor import diagnose, down_parts, report
from harness.fault_servers import serve_api
from harness.stack import free_port

ETL = os.path.join(os.path.dirname(sys.executable), "etl")


def failed(checks) -> dict[str, str]:
    return {f"{c.part}/{c.name}": c.detail for c in checks if not c.ok}


def test_the_test_stack_is_healthy(settings):
    checks = diagnose(settings)
    assert failed(checks) == {}
    assert {c.part for c in checks} == {"configuration", "database", "api"}
    assert report(checks).endswith("All parts are up: configuration, database, API.")


def test_api_not_running_is_named(settings):
    checks = diagnose(settings.model_copy(update={"api_url": f"http://127.0.0.1:{free_port()}"}))
    assert down_parts(checks) == ["api"]
    assert "nothing answers at" in failed(checks)["api/reachable"]
    assert "etl stack up" in report(checks)


def test_a_missing_database_is_named_and_the_api_still_checked(settings):
    broken = settings.source_url.replace("/source?", "/no_such_database?")
    checks = diagnose(settings.model_copy(update={"source_database_url": broken}))
    assert down_parts(checks) == ["database"]
    assert 'database "no_such_database" does not exist' in failed(checks)["database/source"]
    assert set(failed(checks)) == {"database/source", "database/API's role on the source"}


def test_an_api_that_cannot_read_its_database_is_named(settings):
    broken = settings.api_source_url.replace("/source?", "/no_such_database?")
    with serve_api(settings.model_copy(update={"api_database_url": broken})) as url:
        checks = diagnose(settings.model_copy(update={"api_url": url, "api_database_url": broken}))
    assert down_parts(checks) == ["database", "api"]
    assert "cannot read its database" in failed(checks)["api/health"]


@pytest.mark.parametrize(("sent", "message"), [(None, "no ETL_API_TOKEN is set"), ("wrong", "was refused")])
def test_a_missing_or_wrong_token_is_named(settings, sent, message):
    with serve_api(settings.model_copy(update={"api_token": SecretStr("right")})) as url:
        token = SecretStr(sent) if sent else None
        checks = diagnose(settings.model_copy(update={"api_url": url, "api_token": token}))
        assert down_parts(checks) == ["api"]
        assert message in failed(checks)["api/authorized"]
        good = diagnose(settings.model_copy(update={"api_url": url, "api_token": SecretStr("right")}))
        assert failed(good) == {}
        assert "right" not in report(checks) + report(good)


def test_an_invalid_url_stops_at_the_configuration(settings):
    checks = diagnose(settings.model_copy(update={"target_database_url": "mysql://x@y/z"}))
    assert down_parts(checks) == ["configuration"]
    assert {c.part for c in checks} == {"configuration"}
    assert "is not PostgreSQL" in failed(checks)["configuration/target URL"]


def test_cli_doctor_exit_codes_and_json(settings):
    ok = subprocess.run([ETL, "doctor"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "All parts are up" in ok.stdout

    bad = subprocess.run(
        [ETL, "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ETL_API_PORT": "not-a-port"},
    )
    assert bad.returncode == 1
    answer = json.loads(bad.stdout)
    assert answer["down"] == ["configuration"]
    assert "ETL_API_PORT = 'not-a-port'" in answer["checks"][0]["detail"]
    assert "Traceback" not in bad.stderr
