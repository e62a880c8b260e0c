"""The API's routes: data, variables, coverage and health. Nothing here writes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine, func, select, text

from etl_lib.source_schema import source_data

from .db import arrow_schema, get_engine, sample_batches
from .formats import ARROW_MEDIA_TYPE, JSON_MEDIA_TYPE, MEDIA_TYPES, arrow_stream, choose_format, json_stream
from .models import Coverage, DataResponse, ErrorResponse, Health, Variable, VariablesResponse
from .params import VALID, parse_interval, parse_variables

router = APIRouter()

VARIABLES = [
    Variable(name="wind_speed", unit="m/s", description="Nacelle wind speed, 1-minute mean."),
    Variable(name="power", unit="kW", description="Active power at the turbine terminals, 1-minute mean."),
    Variable(name="ambient_temperature", unit="degC", description="Ambient air temperature, 1-minute mean."),
]

ERRORS = {422: {"model": ErrorResponse, "description": "A parameter is missing, malformed or not allowed."}}


@router.get(
    "/data",
    response_model=DataResponse,
    responses={
        **ERRORS,
        200: {
            "description": "JSON by default; an Arrow IPC stream with format=arrow or "
            f"'Accept: {ARROW_MEDIA_TYPE}' (columns timestamp, then the variables as float64).",
            "content": {JSON_MEDIA_TYPE: {}, ARROW_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        },
    },
    summary="1-minute samples of chosen variables over a half-open interval",
)
def get_data(
    engine: Annotated[Engine, Depends(get_engine)],
    request: Request,
    start: Annotated[
        str,
        Query(
            description="Inclusive start, ISO-8601 (e.g. 2024-10-01T00:00:00Z). "
            "An instant without a UTC offset is taken as UTC.",
            examples=["2024-10-01T00:00:00Z"],
        ),
    ],
    end: Annotated[
        str,
        Query(
            description="Exclusive end, ISO-8601, after start. An instant without offset is taken as UTC.",
            examples=["2024-10-02T00:00:00Z"],
        ),
    ],
    variables: Annotated[
        list[str],
        Query(
            description=f"Variables to return, repeated (variables=a&variables=b) or comma-separated. One of: {VALID}.",
            examples=[["wind_speed", "power"]],
        ),
    ],
    format: Annotated[
        str | None,
        Query(
            description=f"Response format, {' or '.join(MEDIA_TYPES)}; overrides the Accept header. "
            "Default: JSON, unless Accept asks for Arrow.",
            examples=["arrow"],
        ),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> StreamingResponse:
    """Streamed whatever the range: the server holds one chunk of rows at a time."""
    begin, finish = parse_interval(start, end, request.app.state.settings.max_range_days)
    names = parse_variables(variables)
    chosen = choose_format(format, accept)
    batches = sample_batches(engine, names, begin, finish)
    if chosen == "arrow":
        body = arrow_stream(batches, arrow_schema(names), begin, finish)
    else:
        body = json_stream(batches, begin, finish, names)
    return StreamingResponse(body, media_type=MEDIA_TYPES[chosen])


@router.get("/variables", response_model=VariablesResponse, summary="The variables /data can return")
def get_variables() -> VariablesResponse:
    return VariablesResponse(variables=VARIABLES)


@router.get("/coverage", response_model=Coverage, summary="First and last timestamp and row count of the source")
def get_coverage(engine: Annotated[Engine, Depends(get_engine)]) -> Coverage:
    ts = source_data.c.timestamp
    with engine.connect() as conn:
        first, last, rows = conn.execute(select(func.min(ts), func.max(ts), func.count())).one()
    return Coverage(first=first, last=last, rows=rows)


@router.get("/health", response_model=Health, responses={503: {"model": ErrorResponse}}, summary="Liveness")
def get_health(engine: Annotated[Engine, Depends(get_engine)]) -> Health:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1 FROM data LIMIT 1"))
    return Health(status="ok", database="ok")
