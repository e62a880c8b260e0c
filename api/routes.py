"""The API's routes: farms, turbines, data, events, variables, coverage and health. Nothing here writes."""

# No `from __future__ import annotations`: FastAPI reads the route signatures.
import datetime as dt
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Request, Response
from sqlalchemy import Engine, text

from etl_lib.core.contract import (
    ARROW_MEDIA_TYPE,
    DESCRIPTIONS,
    JSON_MEDIA_TYPE,
    MAX_FINGERPRINT_DAYS,
    SOURCE_TABLE,
    SOURCE_VARIABLES,
    SOURCE_VERSION_HEADER,
    UNITS,
)

from .binary_copy import arrow_schema
from .deps import Authorized, EngineDep, SettingsDep
from .events import EVENT_TABLES, event_rows, events_json, status_codes
from .farm import COVERAGE_TABLES, FARM_TABLES, FLEET_TABLES, farms, snapshot, turbine_ids, turbines_with_models
from .fingerprints import (
    FINGERPRINT_TABLES,
    fingerprint_rows,
    newest_sample,
)
from .formats import MEDIA_TYPES, arrow_stream, choose_format, json_stream
from .models import (
    Coverage,
    DataResponse,
    ErrorResponse,
    EventsResponse,
    FarmsResponse,
    FingerprintsResponse,
    Health,
    StatusCodesResponse,
    TurbinesResponse,
    Variable,
    VariablesResponse,
)
from .params import (
    DataParameters,
    EventParameters,
    FarmParameters,
    FingerprintParameters,
    NoParameters,
    parse_days,
    parse_interval,
    parse_turbines,
    parse_variables,
    query,
)
from .samples import Selection, Snapshot, is_long, sample_batches
from .streaming import WholeOrBroken

VARIABLES = [Variable(name=name, unit=UNITS[name], description=DESCRIPTIONS[name]) for name in SOURCE_VARIABLES]
UNAVAILABLE = {
    "model": ErrorResponse,
    "description": "The API is busy (every answer slot or database connection in use) or the source "
    "database is unavailable; ask again after Retry-After seconds.",
    "headers": {"Retry-After": {"description": "Seconds to wait before asking again.", "schema": {"type": "integer"}}},
}
ERRORS = {
    401: {"model": ErrorResponse, "description": "ETL_API_TOKEN is set and the bearer token is missing or wrong."},
    422: {"model": ErrorResponse, "description": "A parameter is missing, malformed or not allowed."},
    503: UNAVAILABLE,
}

VERSION = {
    SOURCE_VERSION_HEADER: {
        "description": "The source's version this answer was read from (raised by every replacement of the "
        "source, e.g. `etl seed`): answers with the same version come from the same state of the source.",
        "schema": {"type": "integer"},
    }
}

router = APIRouter(dependencies=[Authorized], responses=ERRORS)
open_router = APIRouter()  # no token needed: liveness


@router.get(
    "/data",
    response_model=DataResponse,
    responses={
        200: {
            "description": "JSON by default; an Arrow IPC stream with format=arrow or "
            f"'Accept: {ARROW_MEDIA_TYPE}' (columns timestamp, turbine when the answer can hold more than one "
            "(dictionary-encoded names), then the variables as float64). Both end by stating the rows sent: "
            "JSON's last member 'count'; in Arrow, the custom metadata 'count' of a last, empty record batch, "
            "then the end-of-stream marker. Both carry, read in the same snapshot as the samples, the fingerprints "
            "of the days the interval touches (as /fingerprints: JSON's members 'fingerprints' and 'newest' before "
            "'data'; Arrow's schema metadata 'fingerprints', a JSON document of both). An answer that fails after its first byte ends without HTTP's last "
            "chunk (an incomplete read for the client), never with a clean end. NaN and ±Infinity: float64 "
            'in Arrow, the strings "NaN", "Infinity", "-Infinity" in JSON; null is a missing value.',
            "content": {JSON_MEDIA_TYPE: {}, ARROW_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "headers": VERSION,
        },
    },
    summary="1-minute samples of chosen turbines and variables over a half-open interval",
)
def get_data(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    parameters: Annotated[DataParameters, query(DataParameters)],
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> WholeOrBroken:
    """Streamed whatever the range: the server holds one chunk of rows at a time, and reads the
    database at its own pace, not the client's."""
    begin, finish = parse_interval(parameters.start, parameters.end, settings.max_range_days)
    names = parse_variables(parameters.variables)
    chosen = choose_format(parameters.format, accept)
    reading = Snapshot(engine, parameters.farm)  # the version, the farm and the samples: one state of the source
    try:
        selection = Selection(parse_turbines(parameters.turbines, parameters.turbine, reading.turbine_ids))
        changes = reading.fingerprints(selection.ids, begin, finish)  # before any sample: the same snapshot
        give_back = request.app.state.answers.take(long=is_long(selection, begin, finish))
    except BaseException:
        reading.release()
        raise
    try:
        batches = sample_batches(reading, selection, names, begin, finish)
    except BaseException:
        give_back()
        raise
    if chosen == "arrow":
        body = arrow_stream(batches, arrow_schema(names, selection.with_turbine), begin, finish, changes)
    else:
        body = json_stream(batches, begin, finish, names, list(selection.ids), changes)

    def finished() -> None:  # read, broken off or never begun: a long answer's spool goes, its slot comes back
        try:
            batches.close()
        finally:
            give_back()

    return WholeOrBroken(
        body,
        media_type=MEDIA_TYPES[chosen],
        on_close=finished,
        headers={SOURCE_VERSION_HEADER: str(reading.version)},
    )


@router.get(
    "/events",
    response_model=EventsResponse,
    responses={200: {"description": "The status log, as one state of the source.", "headers": VERSION}},
    summary="The status log: the events of chosen turbines that overlap a half-open interval",
)
def get_events(
    engine: EngineDep, settings: SettingsDep, parameters: Annotated[EventParameters, query(EventParameters)]
) -> WholeOrBroken:
    """Each event with its status code, its IEC 61400-26-1 category and description; read whole in one state of
    the source (its version in the header, as ``/data``), then sent, ending with ``count`` like ``/data``."""
    begin, finish = parse_interval(parameters.start, parameters.end, settings.max_range_days)
    with snapshot(engine, EVENT_TABLES) as (conn, version):
        selected = parse_turbines(parameters.turbines, parameters.turbine, turbine_ids(conn, parameters.farm))
        rows = event_rows(conn, list(selected.values()), begin, finish)
    return WholeOrBroken(
        events_json(rows, begin, finish, list(selected)),
        media_type=JSON_MEDIA_TYPE,
        headers={SOURCE_VERSION_HEADER: str(version)},
    )


@router.get(
    "/fingerprints",
    response_model=FingerprintsResponse,
    responses={200: {"description": "The fingerprints, as one state of the source.", "headers": VERSION}},
    summary="Each (turbine, UTC day)'s fingerprint: rows, checksum, newest sample; what changed, without the samples",
)
def get_fingerprints(
    engine: EngineDep,
    response: Response,
    parameters: Annotated[FingerprintParameters, query(FingerprintParameters)],
) -> FingerprintsResponse:
    """Kept current by the source's triggers as rows arrive, change or go (docs/live.md): comparing them with the
    ones a run recorded finds the days to run again, one indexed read, never the samples."""
    first, end = parse_days(parameters.start, parameters.end, MAX_FINGERPRINT_DAYS)
    with snapshot(engine, FINGERPRINT_TABLES) as (conn, version):
        selected = parse_turbines(parameters.turbines, parameters.turbine, turbine_ids(conn, parameters.farm))
        cursor = conn.connection.cursor()
        rows = fingerprint_rows(cursor, selected, first, end - dt.timedelta(days=1))
        newest = newest_sample(cursor, selected, first)
    response.headers[SOURCE_VERSION_HEADER] = str(version)
    return FingerprintsResponse(
        start=first, end=end, turbines=list(selected), fingerprints=rows, newest=newest, count=len(rows)
    )


@router.get(
    "/status-codes",
    response_model=StatusCodesResponse,
    summary="The status codes of the log, each with its IEC 61400-26-1 category",
)
def get_status_codes(
    engine: EngineDep, parameters: Annotated[NoParameters, query(NoParameters)]
) -> StatusCodesResponse:
    with engine.connect() as conn:
        return StatusCodesResponse(status_codes=status_codes(conn))


@router.get(
    "/farms",
    response_model=FarmsResponse,
    responses={200: {"description": "The fleet, as one state of the source.", "headers": VERSION}},
    summary="The fleet's farms: name, position, elevation, turbines",
)
def get_farms(
    engine: EngineDep, response: Response, parameters: Annotated[NoParameters, query(NoParameters)]
) -> FarmsResponse:
    with snapshot(engine, FLEET_TABLES) as (conn, version):
        found = farms(conn)
    response.headers[SOURCE_VERSION_HEADER] = str(version)
    return FarmsResponse(farms=found)


@router.get(
    "/turbines",
    response_model=TurbinesResponse,
    responses={200: {"description": "The farm, as one state of the source.", "headers": VERSION}},
    summary="The turbines (of a farm) with their farm and model",
)
def get_turbines(
    engine: EngineDep, response: Response, parameters: Annotated[FarmParameters, query(FarmParameters)]
) -> TurbinesResponse:
    with snapshot(engine, FARM_TABLES) as (conn, version):
        turbines = turbines_with_models(conn, parameters.farm)
    response.headers[SOURCE_VERSION_HEADER] = str(version)
    return TurbinesResponse(turbines=turbines)


@router.get("/variables", response_model=VariablesResponse, summary="The variables /data can return")
def get_variables(parameters: Annotated[NoParameters, query(NoParameters)]) -> VariablesResponse:
    return VariablesResponse(variables=VARIABLES)


@router.get(
    "/coverage",
    response_model=Coverage,
    responses={200: {"description": "The source's extent, as one state of it.", "headers": VERSION}},
    summary="First and last timestamp and row count of the source (or a farm)",
)
def get_coverage(
    engine: EngineDep, response: Response, parameters: Annotated[FarmParameters, query(FarmParameters)]
) -> Coverage:
    with snapshot(engine, COVERAGE_TABLES) as (conn, version):
        if parameters.farm is None:
            first, last, rows = conn.execute(
                text(f'SELECT min("timestamp"), max("timestamp"), count(*) FROM "{SOURCE_TABLE}"')
            ).one()
        else:
            ids = list(turbine_ids(conn, parameters.farm).values())
            first, last, rows = conn.execute(
                text(
                    f'SELECT min("timestamp"), max("timestamp"), count(*) FROM "{SOURCE_TABLE}" '
                    "WHERE turbine_id = ANY(:ids)"
                ),
                {"ids": ids},
            ).one()
    response.headers[SOURCE_VERSION_HEADER] = str(version)
    return Coverage(first=first, last=last, rows=rows)


def _check_database(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text(f'SELECT 1 FROM "{SOURCE_TABLE}" LIMIT 1'))


@open_router.get("/health", response_model=Health, responses={503: UNAVAILABLE}, summary="Liveness")
async def get_health(request: Request, parameters: Annotated[NoParameters, query(NoParameters)]) -> Health:
    """With connections and threads of its own, so it answers (within about a second) while /data is saturated."""
    state = request.app.state
    await anyio.to_thread.run_sync(_check_database, state.health_engine, limiter=state.health_threads)
    return Health(status="ok", database="ok")
