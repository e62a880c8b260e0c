"""The FastAPI application. Serve it with ``uvicorn api.main:app`` (the stack does).

``app`` reads nothing at import: its settings and its engine come at start-up (lifespan), so
``create_app(settings)`` gives a test an app with other settings.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import anyio
import psycopg2
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from etl_lib.config.settings import Settings, get_settings

from . import docs, routes
from .engine import read_only_engine
from .limits import RETRY_AFTER_S, AnswerSlots, unavailable
from .params import VALID

# /health's own connections and threads, so that it answers while /data is saturated.
HEALTH_CONNECTIONS = 2
HEALTH_STATEMENT_TIMEOUT_MS = 1_000
HEALTH_POOL_TIMEOUT_S = 0.5

log = logging.getLogger("api")


def _allowed_parameters(request: Request) -> list[str]:
    """The query parameters the matched route takes (from its parameter models)."""
    route = request.scope.get("route")
    names: list[str] = []
    stack = [route.dependant] if route is not None else []
    while stack:
        dependant = stack.pop()
        for field in dependant.query_params:
            fields = getattr(field.field_info.annotation, "model_fields", None)  # a parameter model: its fields
            names.extend(fields if fields is not None else [field.alias])
        stack.extend(dependant.dependencies)
    return sorted(set(names))


def _describe_validation(request: Request, exc: RequestValidationError) -> str:
    unknown = [str(e["loc"][-1]) for e in exc.errors() if e.get("type") == "extra_forbidden"]
    if unknown:
        allowed = _allowed_parameters(request)
        return f"Unknown query parameter(s) {', '.join(repr(u[:64]) for u in unknown)}. " + (
            f"Allowed: {', '.join(allowed)}." if allowed else "This route takes none."
        )
    parts = []
    for error in exc.errors():
        location = ".".join(str(item) for item in error.get("loc", ()) if item != "query")
        hint = f" (one or more of: {VALID})" if location == "variables" else ""
        parts.append(f"'{location}': {error.get('msg', 'invalid')}{hint}")
    return "Invalid request: " + "; ".join(parts) + ". See /docs for every parameter."


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API; ``settings`` default to the environment's, read when the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = config = settings or get_settings()
        app.state.engine = read_only_engine(
            config.api_source_url,
            config.api_statement_timeout_ms,
            pool_size=config.api_pool_size,
            pool_timeout=config.api_pool_timeout_s,
        )
        app.state.health_engine = read_only_engine(
            config.api_source_url,
            HEALTH_STATEMENT_TIMEOUT_MS,
            pool_size=HEALTH_CONNECTIONS,
            pool_timeout=HEALTH_POOL_TIMEOUT_S,
        )
        app.state.health_threads = anyio.CapacityLimiter(HEALTH_CONNECTIONS)
        app.state.answers = AnswerSlots(config.api_max_answers, config.api_max_long_answers)
        yield
        app.state.engine.dispose()
        app.state.health_engine.dispose()

    app = FastAPI(
        title="Wind turbine source API",
        description="Read-only access to the 1-minute turbine samples. Intervals are half-open "
        "[start, end), instants are ISO-8601 and taken as UTC when they carry no offset.",
        version="1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(routes.router)
    app.include_router(routes.open_router)
    app.include_router(docs.router)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _describe_validation(request, exc)}, status_code=422)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(psycopg2.Error)  # raw (COPY) connections raise the driver's errors unwrapped
    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("database error on %s: %s", request.url.path, getattr(exc, "orig", exc))
        return await http_exception_handler(
            request, unavailable("The source database is unavailable. Try again later.")
        )

    @app.exception_handler(PoolTimeoutError)
    async def on_pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
        config = request.app.state.settings
        log.warning("no free database connection for %s within %g s", request.url.path, config.api_pool_timeout_s)
        return await http_exception_handler(
            request,
            unavailable(
                f"The API is busy: all {config.api_pool_size} database connections are in use "
                f"(ETL_API_POOL_SIZE). Try again in {RETRY_AFTER_S} s."
            ),
        )

    return app


app = create_app()
