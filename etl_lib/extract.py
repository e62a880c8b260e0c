"""Extract: fetch one UTC day of samples from the API over HTTP (httpx), with retries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import httpx
import orjson
import pandas as pd
import pyarrow as pa
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from .dates import day_bounds
from .errors import BadSourceDataError, SourceRequestError, SourceUnavailableError
from .settings import Settings
from .source_schema import ARROW_MEDIA_TYPE

MAX_WAIT_SECONDS = 5.0
# Arrow IPC first: a day decodes in about a millisecond; an API without it answers JSON.
DATA_ACCEPT = f"{ARROW_MEDIA_TYPE}, application/json;q=0.5"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``retries`` after the first attempt, waits from ``backoff`` seconds doubling
    (plus jitter), and no new attempt after ``deadline`` seconds."""

    retries: int = 4
    backoff: float = 0.2
    deadline: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.http_retries, settings.http_backoff, settings.http_retry_deadline)


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        super().__init__(f"HTTP {response.status_code}")


def make_client(settings: Settings) -> httpx.Client:
    """One client per run: a kept connection costs ~1.6 ms a request, a new one ~57 ms."""
    headers = {"Accept": "application/json"}
    if settings.api_token:
        headers["Authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    return httpx.Client(base_url=settings.api_base_url, timeout=settings.http_timeout, headers=headers)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, (httpx.TransportError, _RetryableStatus))


def get(
    client: httpx.Client, path: str, params: dict, *, retry: RetryPolicy = RetryPolicy(), headers: dict | None = None
) -> httpx.Response:
    """GET with exponential backoff and jitter on connection errors, timeouts and 5xx; never on 4xx."""
    retrying = Retrying(
        retry=retry_if_exception(_is_retryable),
        stop=stop_after_attempt(retry.retries + 1) | stop_before_delay(retry.deadline),
        wait=wait_exponential_jitter(multiplier=retry.backoff, jitter=retry.backoff, max=MAX_WAIT_SECONDS),
        reraise=False,
    )
    url = f"{client.base_url}{path}"
    try:
        for attempt in retrying:
            with attempt:
                response = client.get(path, params=params, headers=headers)
                if response.status_code >= 500:
                    raise _RetryableStatus(response)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        if isinstance(last, _RetryableStatus):
            what = f"answered HTTP {last.response.status_code} ({_detail(last.response)})"
        else:
            what = f"could not be reached ({type(last).__name__}: {last or 'no detail'})"
        raise SourceUnavailableError(
            f"The API at {url} {what}, {exc.last_attempt.attempt_number} attempt(s) in a row.",
            "Check which part is down with `etl doctor`; start the stack with `etl stack up`, "
            "or point ETL_API_URL at a running API. Nothing was written.",
        ) from None
    if response.status_code >= 400:
        raise SourceRequestError(
            f"The API refused GET {url} with HTTP {response.status_code}: {_detail(response)}",
            "Check ETL_API_TOKEN and the request parameters; this is not retried.",
        )
    return response


def _detail(response: httpx.Response) -> str:
    """The API's own explanation of an error answer (its ``detail``), else the start of the body."""
    try:
        detail = orjson.loads(response.content).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        detail = None
    return str(detail) if detail else (response.text[:300] or "no detail")


def parse_json(response: httpx.Response) -> object:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise BadSourceDataError(
            f"The API at {response.url} returned invalid JSON ({exc}).", "Check the API's log."
        ) from None


def get_json(client: httpx.Client, path: str, params: dict, *, retry: RetryPolicy = RetryPolicy()) -> dict:
    return parse_json(get(client, path, params, retry=retry))


def fetch_day(
    client: httpx.Client, run_date: dt.date, variables: list[str], *, retry: RetryPolicy = RetryPolicy()
) -> pd.DataFrame:
    """Samples of ``run_date`` (UTC) as a frame indexed by timestamp, one float column per variable.

    The payload is validated before anything downstream sees it: columns, types, and
    timestamps unique and inside the day.
    """
    start, end = day_bounds(run_date)
    response = get(
        client,
        "/data",
        {"start": start.isoformat(), "end": end.isoformat(), "variables": ",".join(variables)},
        retry=retry,
        headers={"Accept": DATA_ACCEPT},
    )
    if response.headers.get("content-type", "").startswith(ARROW_MEDIA_TYPE):
        return validate_arrow(response.content, variables, start, end)
    return validate_samples(parse_json(response), variables, start, end)


def _unusable(start: dt.datetime, end: dt.datetime):
    def bad(problem: str) -> BadSourceDataError:
        return BadSourceDataError(
            f"The API's answer for [{start.isoformat()}, {end.isoformat()}) is unusable: {problem}.",
            "Nothing was written. Check the API version and the source data, then re-run the date.",
        )

    return bad


def validate_samples(payload: object, variables: list[str], start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    bad = _unusable(start, end)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise bad("it has no 'data' list")
    rows = payload["data"]
    columns = ["timestamp", *variables]
    frame = pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    if rows and any(not isinstance(row, dict) or set(row) != set(columns) for row in rows):
        raise bad(f"rows must have exactly the fields {columns}")
    try:
        timestamps = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise bad(f"a timestamp is not ISO-8601 ({exc})") from None
    values = frame[variables]
    for name in variables:
        column = values[name]
        if not (column.dtype.kind in "fi" or column.isna().all()):
            raise bad(f"a value of '{name}' is not a number or null")
    return _checked_frame(timestamps, values, bad, start, end)


def validate_arrow(content: bytes, variables: list[str], start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """The Arrow IPC answer of /data, held to the same checks as ``validate_samples``."""
    bad = _unusable(start, end)
    try:
        table = pa.ipc.open_stream(content).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise bad(f"it is not a complete Arrow IPC stream ({exc})") from None
    columns = ["timestamp", *variables]
    if table.schema.names != columns:
        raise bad(f"its columns are {table.schema.names}, not {columns}")
    kind = table.schema.field("timestamp").type
    if not (pa.types.is_timestamp(kind) and kind.tz in ("UTC", "+00:00", "Z")):
        raise bad(f"'timestamp' is {kind}, not a UTC timestamp")
    for name in variables:
        kind = table.schema.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)):
            raise bad(f"'{name}' is {kind}, not a number or null")
    frame = table.to_pandas()
    timestamps = pd.to_datetime(frame["timestamp"], utc=True)
    return _checked_frame(timestamps, frame[variables], bad, start, end)


def _checked_frame(timestamps: pd.Series, values: pd.DataFrame, bad, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Timestamps present, unique and inside ``[start, end)``; floats indexed by time, in order."""
    if timestamps.isna().any():
        raise bad("a timestamp is missing")
    if len(timestamps) and (timestamps.min() < start or timestamps.max() >= end):
        raise bad("a timestamp lies outside the requested day")
    if timestamps.duplicated().any():
        raise bad(f"timestamp {timestamps[timestamps.duplicated()].iloc[0].isoformat()} appears twice")
    result = values.astype("float64").set_axis(pd.DatetimeIndex(timestamps, name="timestamp"))
    return result.sort_index()
