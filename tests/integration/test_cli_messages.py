"""Every error a user can cause, as `etl` prints it without --verbose: one message (the problem, then
one "What to do"), a non-zero exit, and no traceback, SQL text, parameters or password."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from harness.process_faults import etl, refusing_inserts
from harness.stack import free_port

SECRET = "s3cret-pw"
LEAKS = ("Traceback", SECRET, "[SQL", "INSERT INTO", "[parameters", "sqlalche.me")


def _down(kind: str) -> dict[str, str]:
    """Variables that point at a part that is not running (a free port)."""
    address = f"127.0.0.1:{free_port()}"
    if kind == "api":
        return {"ETL_API_URL": f"http://{address}", "ETL_HTTP_RETRY_DEADLINE": "1"}
    return {f"{kind.upper()}_DATABASE_URL": f"postgresql+psycopg2://etl:{SECRET}@{address}/{kind}"}


CASES = {
    "API down, through the notebook": (("run", "2024-10-02"), "api", "could not be reached"),
    "API down, library only": (("run", "2024-10-02", "--no-report"), "api", "could not be reached"),
    "target down, through the notebook": (
        ("run", "2024-10-02"),
        "target",
        "failed with DatabaseError: The target database failed: connection to server",  # the project's own
    ),
    "target down, library only": (
        ("run", "2024-10-02", "--no-report"),
        "target",
        "The target database failed: connection to server",
    ),
    "source down: seed": (("seed",), "source", "The source database failed: connection to server"),
    "source down: init": (("init",), "source", "The source database failed: connection to server"),
    "full-width digits": (("run", "２０２４-１０-０２", "--no-report"), None, "(ASCII digits 0-9)"),
    "a year typed 1924": (("run", "1924-10-02", "--no-report"), None, "is before 2000-01-01"),
    "a backfill of a century": (("backfill", "1924-10-01", "2024-09-30"), None, "is before 2000-01-01"),
    "a backfill of 15 years": (("backfill", "2009-10-01", "2024-09-30"), None, "more than 3,660"),
}


def assert_one_clean_message(done, expected: str) -> None:
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    assert expected in done.stderr, done.stderr
    assert done.stderr.count("What to do:") == 1, done.stderr
    for leak in LEAKS:
        assert leak not in done.stderr, done.stderr


@pytest.mark.parametrize("case", list(CASES))
def test_each_error_is_one_clean_message(settings, tmp_path, case):
    args, down, expected = CASES[case]
    env = {"ETL_RUNS_DIR": str(tmp_path / "runs"), **(_down(down) if down else {})}
    if args[0] == "backfill":  # should the range be run after all, its days fail fast and write nothing
        env |= _down("api") | _down("target")
    assert_one_clean_message(etl(*args, env=env, timeout=60), expected)


def refusing_run_records(target_engine):
    """The target refuses new etl_run rows (as a target with an older or locked-down etl_run would)."""
    return refusing_inserts(target_engine, "etl_run", "etl_run refuses new rows")


def test_a_refused_run_record_shows_no_statement_and_no_parameters(settings, target_engine):
    with refusing_run_records(target_engine):
        done = etl("run", "2024-10-03", "--no-report")
    assert_one_clean_message(done, "etl_run refuses new rows")


def _day_row_versions(target_engine, day: str) -> tuple[int, list[str]]:
    """The day's target rows: how many, and the transactions that wrote them (PostgreSQL's xmin)."""
    with target_engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT count(*), array_agg(DISTINCT xmin::text ORDER BY xmin::text) FROM data "
                    "WHERE timestamp >= CAST(:day AS timestamptz) AND timestamp < CAST(:day AS timestamptz) + interval '1 day'"
                ),
                {"day": f"{day}T00:00:00+00:00"},
            ).one()
        )


def test_data_never_commits_without_its_run_record(settings, target_engine):
    """The record is inserted in the data's transaction: when it cannot be, the day stays as it was
    (the same rows, written by the same transaction as before), not replaced without a record."""
    assert etl("run", "2024-10-04", "--no-report").returncode == 0
    before = _day_row_versions(target_engine, "2024-10-04")
    with target_engine.connect() as conn:
        records = conn.execute(text("SELECT count(*) FROM etl_run")).scalar()
    with refusing_run_records(target_engine):
        assert etl("run", "2024-10-04", "--no-report").returncode != 0
    assert before[0] > 0 and _day_row_versions(target_engine, "2024-10-04") == before
    with target_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM etl_run")).scalar() == records
    # and without the trigger the same run replaces the day: the check above can tell
    assert etl("run", "2024-10-04", "--no-report").returncode == 0
    assert _day_row_versions(target_engine, "2024-10-04")[1] != before[1]
