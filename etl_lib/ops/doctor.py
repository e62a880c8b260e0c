"""``etl doctor``: which part is down — configuration, database or API — said plainly.

Each check is tried for real (connect, query, HTTP GET) with short timeouts; a failed check
carries what to do. Nothing is written anywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from ..config.settings import Settings, get_settings
from ..core.contract import SOURCE_TABLE
from ..core.errors import ConfigurationError, SchemaVersionError
from ..pipeline.extract import make_client
from ..storage.engines import redact
from ..storage.migrations import HEAD, refuse_unknown, revision_of
from ..storage.target import signal
from . import embedded_postgres

PARTS = ("configuration", "database", "api")
TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Check:
    part: str  # one of PARTS
    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def down_parts(checks: list[Check]) -> list[str]:
    return [part for part in PARTS if any(c.part == part and not c.ok for c in checks)]


def diagnose(settings: Settings | None = None) -> list[Check]:
    """Every check, in order; later parts are skipped when the configuration cannot be read."""
    if settings is None:
        try:
            settings = get_settings()
        except ConfigurationError as exc:
            return [Check("configuration", "settings", False, exc.problem, exc.fix)]
    checks = _configuration(settings)
    if not all(c.ok for c in checks):
        return checks
    return checks + _databases(settings) + _api(settings)


def _configuration(settings: Settings) -> list[Check]:
    checks = []
    for name, url in (
        ("source URL", settings.source_url),
        ("target URL", settings.target_url),
        ("API database URL", settings.api_source_url),
    ):
        try:
            backend = make_url(url).get_backend_name()
        except Exception as exc:
            checks.append(
                Check(
                    "configuration",
                    name,
                    False,
                    f"{redact(url)!r} is not a database URL ({exc}).",
                    "Use the form postgresql+psycopg2://user:password@host:5432/database.",
                )
            )
            continue
        ok = backend == "postgresql"
        checks.append(
            Check(
                "configuration",
                name,
                ok,
                redact(url) if ok else f"{redact(url)!r} is not PostgreSQL.",
                None if ok else "The ETL needs PostgreSQL: postgresql+psycopg2://...",
            )
        )
    api = httpx.URL(settings.api_base_url)
    ok = api.scheme in ("http", "https") and bool(api.host)
    checks.append(
        Check(
            "configuration",
            "API URL",
            ok,
            settings.api_base_url if ok else f"{settings.api_base_url!r} is not an http(s) URL with a host.",
            None if ok else "Set ETL_API_URL like http://127.0.0.1:8765.",
        )
    )
    return checks


def _database(name: str, url: str, query: str, describe) -> Check:
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": int(TIMEOUT_S)})
    try:
        with engine.connect() as conn:
            return Check("database", name, True, describe(conn.execute(text(query)).scalar_one()))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        missing_table = "does not exist" in reason and "relation" in reason
        return Check(
            "database",
            name,
            False,
            reason,
            "Create the tables with `etl init` (and data with `etl seed`)."
            if missing_table
            else "Start the embedded stack with `etl stack up`, or check the URL, the server and the role.",
        )
    finally:
        engine.dispose()


def _schema(database: str, url: str) -> Check | None:
    """The schema's revision against this code's: current, older (migrated by `etl init` or the next run),
    or unknown (a newer version migrated it: a problem). None when the database cannot be read (the
    checks above say why)."""
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": int(TIMEOUT_S)})
    try:
        with engine.connect() as conn:
            found = revision_of(conn)
    except DBAPIError:
        return None
    finally:
        engine.dispose()
    name = f"{database} schema"
    try:
        refuse_unknown(found, database)
    except SchemaVersionError as exc:
        return Check("database", name, False, exc.problem, exc.fix)
    newest = HEAD[database]
    if found == newest:
        return Check("database", name, True, f"revision {found} (this code's newest)")
    if found is None:
        return Check("database", name, True, f"no revision recorded yet: `etl init` (or the first run) makes {newest}")
    return Check(
        "database", name, True, f"revision {found}, older than {newest}: `etl init` (or the next run) migrates it"
    )


def _databases(settings: Settings) -> list[Check]:
    checks = []
    if settings.uses_embedded_databases:
        running = embedded_postgres.is_running(settings.pgdata)
        checks.append(
            Check(
                "database",
                "embedded server",
                running,
                f"{'running' if running else 'not running'} in {settings.pgdata}",
                None if running else "Start it with `etl stack up`.",
            )
        )
    checks.append(
        _database("source", settings.source_url, f"SELECT count(*) FROM {SOURCE_TABLE}", lambda n: f"{n:,} samples")
    )
    checks.append(
        _database(
            "target", settings.target_url, f"SELECT count(*) FROM {signal.name}", lambda n: f"{n} signals defined"
        )
    )
    checks += [
        check
        for check in (_schema("source", settings.source_url), _schema("target", settings.target_url))
        if check is not None
    ]
    checks.append(
        _database(
            "API's role on the source",
            settings.api_source_url,
            f"SELECT count(*) FROM (SELECT 1 FROM {SOURCE_TABLE} LIMIT 1) AS one",
            lambda n: "can read the samples",
        )
    )
    return checks


def _api(settings: Settings) -> list[Check]:
    base = settings.api_base_url
    try:
        health = httpx.get(f"{base}/health", timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        return [
            Check(
                "api",
                "reachable",
                False,
                f"nothing answers at {base} ({type(exc).__name__}).",
                "Start it with `etl stack up`, or point ETL_API_URL (or ETL_API_PORT) at the running API.",
            )
        ]
    if health.status_code != 200:
        return [
            Check(
                "api",
                "health",
                False,
                f"{base}/health answered HTTP {health.status_code}: the API runs but cannot read its database.",
                "See the database checks above and the API's log (stack folder, api.log).",
            )
        ]
    checks = [Check("api", "health", True, f"{base} answers and reads its database")]
    try:
        with make_client(settings) as client:  # the ETL's own client: its base URL and token
            answer = client.get("/variables", timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        answer = None
        checks.append(
            Check(
                "api",
                "authorized",
                False,
                f"GET {base}/variables failed ({type(exc).__name__}).",
                "Look at the API's log.",
            )
        )
    if answer is not None and answer.status_code == 401:
        sent = "the configured ETL_API_TOKEN was refused" if settings.api_token else "no ETL_API_TOKEN is set"
        checks.append(
            Check(
                "api",
                "authorized",
                False,
                f"the API requires a bearer token and {sent}.",
                "Set ETL_API_TOKEN to the token the API was started with.",
            )
        )
    elif answer is not None:
        ok = answer.status_code == 200
        checks.append(
            Check(
                "api",
                "authorized",
                ok,
                "requests are accepted" + (" with the token" if settings.api_token else ""),
                None if ok else f"GET /variables answered HTTP {answer.status_code}; look at the API's log.",
            )
        )
    return checks


def report(checks: list[Check]) -> str:
    """The checks as plain text, ending with the verdict."""
    lines = []
    for check in checks:
        lines.append(f"{check.part:<14} {'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if not check.ok and check.fix:
            lines.append(f"{'':<20} what to do: {check.fix}")
    down = down_parts(checks)
    lines.append(f"DOWN: {', '.join(down)}" if down else "All parts are up: configuration, database, API.")
    return "\n".join(lines)
