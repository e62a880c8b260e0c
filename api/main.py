"""The FastAPI application. Serve it with ``uvicorn api.main:app`` (the stack does)."""

from __future__ import annotations

import logging
import secrets
from contextlib import asynccontextmanager

import psycopg2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError

from etl_lib.settings import Settings, get_settings

from .db import read_only_engine
from .params import VALID
from .routes import router

log = logging.getLogger("api")

OPEN_ROUTES = {"/health"}  # with ETL_API_TOKEN set, everything else (docs and schema too) needs the token
ALLOWED_PARAMETERS = {
    "/data": {"start", "end", "variables", "format"},
    "/variables": set(),
    "/coverage": set(),
    "/health": set(),
}
REPEATABLE_PARAMETERS = {"variables"}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(item) for item in error.get("loc", ()) if item != "query")
        hint = f" (one or more of: {VALID})" if location == "variables" else ""
        parts.append(f"'{location}': {error.get('msg', 'invalid')}{hint}")
    return "Invalid request: " + "; ".join(parts) + ". See /docs for every parameter."


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.engine = read_only_engine(settings.api_source_url, settings.api_statement_timeout_ms)
        yield
        app.state.engine.dispose()

    app = FastAPI(
        title="Wind turbine source API",
        description="Read-only access to the 1-minute turbine samples. Intervals are half-open "
        "[start, end), instants are ISO-8601 and taken as UTC when they carry no offset.",
        version="1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(router)
    token = settings.api_token.get_secret_value() if settings.api_token else None

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if token and request.url.path not in OPEN_ROUTES:
            sent = request.headers.get("authorization", "")
            if not secrets.compare_digest(sent.encode(), f"Bearer {token}".encode()):
                return JSONResponse(
                    {"detail": "Missing or wrong bearer token. Send 'Authorization: Bearer <ETL_API_TOKEN>'."},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        allowed = ALLOWED_PARAMETERS.get(request.url.path)
        if allowed is not None:
            unknown = sorted(set(request.query_params) - allowed)
            if unknown:
                return JSONResponse(
                    {"detail": f"Unknown query parameter(s) {', '.join(repr(u[:64]) for u in unknown)}. "
                     f"Allowed: {', '.join(sorted(allowed))}."},
                    status_code=422,
                )
            repeated = sorted(
                name for name in set(request.query_params)
                if name not in REPEATABLE_PARAMETERS and len(request.query_params.getlist(name)) > 1
            )  # fmt: skip
            if repeated:
                return JSONResponse(
                    {"detail": f"Parameter(s) {', '.join(repr(r) for r in repeated)} given more than once. "
                     f"Give each once; only {', '.join(sorted(REPEATABLE_PARAMETERS))} may repeat."},
                    status_code=422,
                )
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _describe_validation(exc)}, status_code=422)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    @app.exception_handler(psycopg2.Error)  # raw (COPY) connections raise the driver's errors unwrapped
    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("database error on %s: %s", request.url.path, getattr(exc, "orig", exc))
        return JSONResponse({"detail": "The source database is unavailable. Try again later."}, status_code=503)

    return app


app = create_app()
