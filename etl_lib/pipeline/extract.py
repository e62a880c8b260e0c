"""Extract: the farm (one of the source's fleet) and one UTC day of its samples from the API over HTTP
(httpx), with retries.

One request for the farm (``/turbines``), one for the day of every turbine in the scope (``/data``:
for the whole farm without naming a turbine, so no URL grows with the farm; for some turbines by
their exact names); the answer (Arrow, or JSON from an API without it) is validated before anything
downstream sees it. Both answers state the source's version they were read from
(``X-Source-Version``): samples of another version than the farm's raise ``SourceChangedError``,
and the run reads both again (``pipeline.run``), so one source's models never meet another's samples.

While the API cannot be reached, every retry is announced at once (logger ``etl_lib.pipeline.extract``,
INFO): which attempt of how many, and until when at most. The CLI and the notebooks show it
(``pipeline.notices``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from ..config.settings import Settings
from ..core.categories import category
from ..core.contract import (
    ARROW_MEDIA_TYPE,
    COUNT_METADATA_KEY,
    FINGERPRINTS_METADATA_KEY,
    JSON_MEDIA_TYPE,
    MAX_FINGERPRINT_DAYS,
    NON_FINITE_JSON,
    SOURCE_VERSION_HEADER,
)
from ..core.errors import (
    BadSourceDataError,
    ConfigurationError,
    FarmChoiceError,
    IncompleteAnswerError,
    OlderApiError,
    SourceChangedError,
    SourceRequestError,
    SourceUnavailableError,
)
from ..core.fingerprints import SourceFingerprints
from ..core.scope import RunScope
from ..core.turbines import TurbineModel
from .samples import Samples

logger = logging.getLogger(__name__)
MAX_WAIT_SECONDS = 5.0
# Arrow IPC first: a day decodes in about a millisecond; an API without it answers JSON.
DATA_ACCEPT = f"{ARROW_MEDIA_TYPE}, {JSON_MEDIA_TYPE};q=0.5"
# A selection of turbines whose names take more than this in the URL asks for the whole farm and keeps
# its own (the API refuses request lines and headers over 64 KiB; httpx, URLs over 64 KiB).
MAX_LISTED_BYTES = 16_384


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``retries`` after the first attempt, waits from ``backoff`` seconds doubling
    up to ``MAX_WAIT_SECONDS`` (plus up to ``backoff`` of jitter), and no attempt that would start
    more than ``deadline`` seconds after the first. The defaults are the settings'."""

    retries: int
    backoff: float
    deadline: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.http_retries, settings.http_backoff, settings.http_retry_deadline)

    def wait(self) -> wait_exponential_jitter:
        return wait_exponential_jitter(multiplier=self.backoff, jitter=self.backoff, max=MAX_WAIT_SECONDS)

    def schedule(self) -> list[float]:
        """When each attempt starts, in seconds after the first, if every attempt failed at once and
        no jitter were added: the earliest the budget allows. The last entry is the last attempt."""
        starts, elapsed = [0.0], 0.0
        for retry in range(1, self.retries + 1):
            wait = min(self.backoff * 2 ** (retry - 1), MAX_WAIT_SECONDS)
            if elapsed + wait >= self.deadline:  # tenacity's stop_before_delay
                break
            elapsed += wait
            starts.append(round(elapsed, 3))
        return starts


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        super().__init__(f"HTTP {response.status_code}")


def make_client(settings: Settings) -> httpx.Client:
    """One client per run: a kept connection costs ~1.6 ms a request, a new one ~57 ms.

    TLS is set up only for an ``https`` API: httpx's default context loads the CA bundle when the
    client is made (0.05-0.09 s of every ``etl run``), and a plain-HTTP API never uses it (the client
    follows no redirects, so it cannot be sent on to an ``https`` address either)."""
    headers = {"Accept": JSON_MEDIA_TYPE}
    if settings.api_token:
        headers["Authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    tls = httpx.URL(settings.api_base_url).scheme == "https"
    return httpx.Client(base_url=settings.api_base_url, timeout=settings.http_timeout, headers=headers, verify=tls)


def _is_retryable(exc: BaseException) -> bool:
    # httpx raises a TransportError (RemoteProtocolError) for an answer whose connection closed early.
    return isinstance(exc, (httpx.TransportError, _RetryableStatus, IncompleteAnswerError))


def get(
    client: httpx.Client,
    path: str,
    params: dict,
    *,
    retry: RetryPolicy,
    headers: dict | None = None,
    check: Callable[[httpx.Response], None] | None = None,
) -> httpx.Response:
    """GET with exponential backoff and jitter on connection errors, timeouts, 5xx and incomplete
    answers; never on 4xx. ``check`` sees every answer below 400 within its attempt: raising
    ``IncompleteAnswerError`` asks again, any other error ends the request. Each retry is logged at
    INFO (logger ``etl_lib.pipeline.extract``): quiet unless asked for."""
    url = f"{client.base_url}{path}"
    retrying = Retrying(
        retry=retry_if_exception(_is_retryable),
        stop=stop_after_attempt(retry.retries + 1) | stop_before_delay(retry.deadline),
        wait=retry.wait(),
        before_sleep=_log_retry(url, retry),
        reraise=False,
    )
    started = time.monotonic()
    try:
        for attempt in retrying:
            with attempt:
                response = client.get(path, params=params, headers=headers)
                if response.status_code >= 500:
                    raise _RetryableStatus(response)
                if check is not None and response.status_code < 400:
                    check(response)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        attempts = exc.last_attempt.attempt_number
        seconds = time.monotonic() - started
        if isinstance(last, IncompleteAnswerError):
            raise SourceUnavailableError(
                url, attempts, status=200, detail=f"incomplete every time: {last.what}", seconds=seconds
            ) from None
        if isinstance(last, _RetryableStatus):
            raise SourceUnavailableError(
                url, attempts, status=last.response.status_code, detail=_detail(last.response), seconds=seconds
            ) from None
        detail = f"{type(last).__name__}: {last or 'no detail'}"
        raise SourceUnavailableError(url, attempts, detail=detail, seconds=seconds) from None
    if response.status_code >= 400:
        raise SourceRequestError(url, response.status_code, _detail(response))
    return response


def _log_retry(url: str, retry: RetryPolicy):
    def log(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        what = (
            f"answered HTTP {error.response.status_code}"
            if isinstance(error, _RetryableStatus)
            else f"failed ({type(error).__name__}: {error or 'no detail'})"
        )
        logger.info(
            "The API at %s %s; retrying in %.1f s: attempt %d of at most %d, for at most %.0f s after the first.",
            url,
            what,
            state.upcoming_sleep,
            state.attempt_number + 1,
            retry.retries + 1,
            retry.deadline,
        )

    return log


def _detail(response: httpx.Response) -> str:
    """The API's own explanation of an error answer (its ``detail``), else the start of the body."""
    try:
        detail = orjson.loads(response.content).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        detail = None
    return str(detail) if detail else (response.text[:300] or "no detail")


def parse_json(response: httpx.Response, start: dt.datetime, end: dt.datetime) -> object:
    """The answer as JSON; one that breaks off (invalid only at its very end) is incomplete, not bad."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        if exc.pos >= len(response.content.rstrip()):
            raise IncompleteAnswerError(start, end, f"the JSON document breaks off after {exc.pos} bytes") from None
        raise BadSourceDataError(start, end, f"the API at {response.url} returned invalid JSON ({exc})") from None


@dataclass(frozen=True)
class Site:
    """A farm of the fleet as the API describes it (GET /farms)."""

    name: str
    latitude: float | None = None
    longitude: float | None = None
    elevation: float | None = None  # m above sea level
    turbines: int = 0

    def as_row(self) -> dict:
        return {"name": self.name, "latitude": self.latitude, "longitude": self.longitude, "elevation": self.elevation}


class Fleet(tuple):
    """The fleet's farms (``Site`` s in name order) as the API describes them (GET /farms), and the source's
    ``version`` they were read from."""

    version: int | None

    def __new__(cls, sites, version: int | None = None) -> Fleet:
        fleet = super().__new__(cls, sites)
        fleet.version = version
        return fleet


def fetch_farms(client: httpx.Client, *, retry: RetryPolicy) -> Fleet:
    """The fleet's farms (GET /farms), in name order, and the source's version."""
    response = get(client, "/farms", {}, retry=retry)
    try:
        sites = [
            Site(f["name"], f.get("latitude"), f.get("longitude"), f.get("elevation"), int(f.get("turbines") or 0))
            for f in orjson.loads(response.content)["farms"]
        ]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SourceRequestError(
            str(response.url), response.status_code, f"the answer is not a list of farms ({exc!r})"
        ) from None
    return Fleet(sites, source_version(response))


def choose_farm(farms: Sequence[Site], name: str | None) -> Site:
    """The farm named ``name`` of ``farms``, or the only one when ``name`` is None; otherwise ``FarmChoiceError``,
    which lists the farms and says how to name one."""
    names = ", ".join(site.name for site in farms[:20]) + (", …" if len(farms) > 20 else "")
    if name is None:
        if len(farms) == 1:
            return farms[0]
        if not farms:
            raise FarmChoiceError("The source has no farm.", "Fill it first: `etl seed` (or load your fleet's farms).")
        raise FarmChoiceError(
            f"The source holds {len(farms)} farms ({names}) and the run names none: a run is one farm's day.",
            f"Name the farm: `etl run DATE --farm {farms[0].name}` (run_etl(..., farm=...); the notebook's "
            "parameter farm). `etl backfill` runs every farm.",
        )
    for site in farms:
        if site.name == name:
            return site
    raise FarmChoiceError(f"The source has no farm {name[:64]!r}.", f"Pick from: {names or '(none: seed it first)'}.")


def resolve_farm(client: httpx.Client, name: str | None, *, retry: RetryPolicy) -> tuple[Site, Fleet]:
    """The farm a run of ``name`` is for (``choose_farm``), and every farm of the source (a report's folder
    depends on whether it holds more than one)."""
    farms = fetch_farms(client, retry=retry)
    return choose_farm(farms, name), farms


@dataclass(frozen=True)
class Turbine:
    """A turbine of the farm as the API describes it."""

    name: str
    model: TurbineModel
    latitude: float | None = None
    longitude: float | None = None
    elevation: float | None = None  # m above sea level
    farm: str | None = None  # the farm it belongs to

    def as_row(self) -> dict:
        return {
            "name": self.name,
            "model": self.model,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "elevation": self.elevation,
        }


@dataclass(frozen=True)
class Farm:
    """The farm as the API describes it (``/turbines``): its turbines in name order, and the source's
    ``version`` they were read from; ``name``: the farm's, when the request named it (a farm of a fleet)."""

    turbines: tuple[Turbine, ...]
    version: int
    name: str | None = None

    def __iter__(self):
        return iter(self.turbines)

    def __len__(self) -> int:
        return len(self.turbines)

    @property
    def names(self) -> list[str]:
        return [turbine.name for turbine in self.turbines]


def source_version(response: httpx.Response) -> int:
    """The source's version an answer states (``X-Source-Version``); an API that states none is older than
    this ETL (``OlderApiError``)."""
    try:
        return int(response.headers[SOURCE_VERSION_HEADER])
    except (KeyError, ValueError):
        raise OlderApiError(str(response.url), f"valid {SOURCE_VERSION_HEADER} header") from None


def fetch_farm(client: httpx.Client, *, retry: RetryPolicy, farm: str | None = None) -> Farm:
    """The turbines of the farm named ``farm`` (None: of every farm) with their models (GET /turbines), in name
    order, and the source's version."""
    response = get(client, "/turbines", {} if farm is None else {"farm": farm}, retry=retry)
    try:
        turbines = tuple(
            Turbine(
                t["name"],
                TurbineModel.from_dict(t["model"]),
                t.get("latitude"),
                t.get("longitude"),
                t.get("elevation"),
                t.get("farm"),
            )
            for t in orjson.loads(response.content)["turbines"]
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SourceRequestError(
            str(response.url), response.status_code, f"the answer is not a list of turbines with models ({exc!r})"
        ) from None
    strangers = sorted({t.name for t in turbines if farm is not None and t.farm != farm})
    if strangers:  # a turbine of another farm would be judged against this farm's
        raise SourceRequestError(
            str(response.url),
            response.status_code,
            f"the turbines of farm {farm!r} include turbine(s) of another farm: {', '.join(strangers[:5])}",
        )
    return Farm(turbines, source_version(response), farm)


def select_turbines(farm: Farm | list[Turbine], scope: RunScope) -> list[Turbine]:
    """The farm's turbines the scope names (all when it names none); an unknown name is an error. A name is
    matched as it stands, else with the spaces around it ignored (``WT01, WT02`` from a command line)."""
    turbines = list(farm)
    if scope.turbines is None:
        return turbines
    by_name = {t.name: t for t in turbines}
    by_stripped = {t.name.strip(): t for t in turbines}
    chosen = [by_name.get(name) or by_stripped.get(name.strip()) for name in scope.turbines]
    unknown = [name for name, turbine in zip(scope.turbines, chosen) if turbine is None]
    if unknown:
        raise ConfigurationError(
            f"The farm{'' if scope.farm is None else ' ' + scope.farm} has no turbine(s) "
            f"{', '.join(map(repr, unknown))}.",
            f"Pick from: {', '.join(map(_named, by_name)) or '(none: seed the source first)'}.",
            setting="turbines",
        )
    return list(dict.fromkeys(chosen))


def _named(name: str) -> str:
    """A name as a list shows it: quoted when a comma or spaces at its ends would blur it."""
    return repr(name) if "," in name or name != name.strip() else name


def fetch_day(
    client: httpx.Client,
    scope: RunScope,
    variables: list[str],
    *,
    retry: RetryPolicy,
    farm: Farm | None = None,
) -> Samples:
    """The samples of the scope's day and turbines (``scope.turbines`` must be set), whole and
    validated (``read_samples``). An incomplete answer is asked for again, like a 5xx; never used.

    With ``farm`` (what ``fetch_farm`` read), the answer must come from the farm's state of the
    source (else ``SourceChangedError``, before anything else is read from it), and a scope of the whole
    farm is asked for without naming a turbine; otherwise the turbines are named one by one, exactly
    (``turbine=<name>``), unless their names would make the URL too long: then the whole farm is asked
    for and the others are left out."""
    params: dict = {"start": scope.start.isoformat(), "end": scope.end.isoformat(), "variables": ",".join(variables)}
    asked = _asked(scope, farm, params)
    whole_answers: list[Samples] = []

    def check(response: httpx.Response) -> None:
        _same_source(response, farm, scope)  # before its rows are judged
        samples = read_samples(response, variables, scope.covering(asked))
        version = source_version(response)
        if asked != tuple(scope.turbines):  # the whole farm for a long selection: keep the scope's own
            keep = samples.values.index.get_level_values("turbine").isin(scope.turbines)
            samples = _only(samples, keep, scope)
        samples.version = version
        if samples.fingerprints is not None:
            kept = tuple(f for f in samples.fingerprints.fingerprints if f.turbine in scope.turbines)
            samples.fingerprints = SourceFingerprints(kept, samples.fingerprints.newest, version)
        whole_answers.append(samples)

    get(client, "/data", params, retry=retry, headers={"Accept": DATA_ACCEPT}, check=check)
    return whole_answers[-1]


def _asked(scope: RunScope, farm: Farm | None, params: dict) -> tuple[str, ...]:
    """The turbines a request for the scope asks for, its ``turbine`` parameters set in ``params``: none (the
    whole farm, by its name when it has one: ``farm=<name>``) when the scope is the whole ``farm`` or its names
    would make the URL too long, else each scope turbine exactly (``turbine=<name>``)."""
    listed = sum(len(str(httpx.QueryParams({"turbine": name}))) + 1 for name in scope.turbines)
    ask_all = farm is not None and (list(scope.turbines) == farm.names or listed > MAX_LISTED_BYTES)
    if ask_all:
        if farm.name is not None:  # a farm of a fleet: the whole farm is that farm's turbines, not the source's
            params["farm"] = farm.name
        return tuple(farm.names)
    params["turbine"] = list(scope.turbines)
    return tuple(scope.turbines)


def _same_source(response: httpx.Response, farm: Farm | None, scope: RunScope) -> None:
    """``SourceChangedError`` when the answer states another version of the source than ``farm`` was read from."""
    stated = response.headers.get(SOURCE_VERSION_HEADER)
    if farm is not None and stated is not None and stated != str(farm.version):
        raise SourceChangedError(farm.version, source_version(response), scope.run_date)


def _only(samples: Samples, keep: np.ndarray, scope: RunScope) -> Samples:
    """The rows ``keep`` of ``samples``, their turbine level reduced to the scope's turbines."""

    def reduced(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame[keep]
        turbines = frame.index.get_level_values("turbine").astype(str)
        index = pd.MultiIndex.from_arrays(
            [pd.Categorical(turbines, categories=list(scope.turbines)), frame.index.get_level_values("timestamp")],
            names=["turbine", "timestamp"],
        )
        return frame.set_axis(index).sort_index()

    return Samples(reduced(samples.values), reduced(samples.non_finite), fingerprints=samples.fingerprints)


EVENT_COLUMNS = ["turbine", "start_time", "end_time", "code", "category"]


def fetch_events(
    client: httpx.Client, scope: RunScope, *, retry: RetryPolicy, farm: Farm | None = None
) -> pd.DataFrame | None:
    """The status log's events of the scope's turbines that overlap its day (GET /events): ``turbine,
    start_time, end_time`` (NaT while open), ``code, category``; whole and validated. None when the source
    keeps no status log (an API without ``/events``): the day's categories are then inferred. With ``farm``,
    asked for as ``fetch_day`` asks, and of the farm's state of the source (else ``SourceChangedError``)."""
    params: dict = {"start": scope.start.isoformat(), "end": scope.end.isoformat()}
    asked = _asked(scope, farm, params)
    whole: list[pd.DataFrame] = []

    def check(response: httpx.Response) -> None:
        _same_source(response, farm, scope)
        events = read_events(response, scope.covering(asked))
        whole.append(events[events["turbine"].isin(scope.turbines)].reset_index(drop=True))

    try:
        get(client, "/events", params, retry=retry, check=check)
    except SourceRequestError as exc:
        if exc.status == 404:
            return None
        raise
    return whole[-1]


def read_events(response: httpx.Response, scope: RunScope) -> pd.DataFrame:
    """The JSON answer of /events: whole (``count`` last, equal to the events it holds), each event a known
    turbine's, with a start before its end and a category of IEC 61400-26-1."""
    bad = _unusable(scope)
    payload = parse_json(response, scope.start, scope.end)
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise bad("the status log's answer has no 'events' list")
    rows, stated = payload["events"], payload.get("count")
    if not isinstance(stated, int) or isinstance(stated, bool) or stated != len(rows):
        raise _incomplete(scope)(f"the status log's answer holds {len(rows)} events but states {stated!r}")
    if any(not isinstance(row, dict) or not set(EVENT_COLUMNS) <= set(row) for row in rows):
        raise bad(f"an event lacks one of the fields {EVENT_COLUMNS}")
    frame = pd.DataFrame.from_records(rows, columns=EVENT_COLUMNS) if rows else pd.DataFrame(columns=EVENT_COLUMNS)
    try:
        frame["start_time"] = pd.to_datetime(frame["start_time"], utc=True, format="ISO8601")
        frame["end_time"] = pd.to_datetime(frame["end_time"], utc=True, format="ISO8601")
        frame["code"] = frame["code"].astype("int64")
        named = {name: category(str(name)).value for name in frame["category"].unique()}  # a few, for thousands
        frame["category"] = frame["category"].map(named)
    except (ValueError, TypeError) as exc:
        raise bad(f"an event of the status log is malformed ({exc})") from None
    unknown = set(frame["turbine"]) - set(scope.turbines or ())
    if unknown:
        raise bad(f"the status log names turbines not asked for: {', '.join(map(str, sorted(unknown))[:5])}")
    if frame["start_time"].isna().any() or (frame["end_time"] <= frame["start_time"]).any():
        raise bad("an event of the status log has no start, or ends before it starts")
    return frame


def read_samples(response: httpx.Response, variables: list[str], scope: RunScope) -> Samples:
    """The answer of /data, Arrow or JSON by its content type: whole (it states its row count last, and
    holds that many; Arrow ends with its end-of-stream marker; otherwise ``IncompleteAnswerError``),
    then validated: columns, types, turbines asked for, ``(turbine, timestamp)`` unique and inside the scope."""
    if response.headers.get("content-type", "").startswith(ARROW_MEDIA_TYPE):
        return validate_arrow(response.content, variables, scope)
    return validate_samples(parse_json(response, scope.start, scope.end), variables, scope)


def _unusable(scope: RunScope):
    def bad(reason: str) -> BadSourceDataError:
        return BadSourceDataError(scope.start, scope.end, reason)

    return bad


def _incomplete(scope: RunScope):
    def incomplete(what: str) -> IncompleteAnswerError:
        return IncompleteAnswerError(scope.start, scope.end, what)

    return incomplete


def _json_numbers(column: pd.Series, name: str, bad) -> tuple[pd.Series, pd.Series]:
    """A JSON column as floats, and where it held a non-finite number (JSON has no NaN or Infinity: the
    API sends them as the strings of ``NON_FINITE_JSON``)."""
    if column.dtype.kind in "fi" or column.isna().all():
        values = column.astype("float64")
        return values, pd.Series(False, index=column.index) | ~np.isfinite(values.fillna(0.0))
    texts = column.map(lambda v: v if isinstance(v, str) else None)
    unknown = texts.notna() & ~texts.isin(list(NON_FINITE_JSON))
    numbers = column.map(lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)) or v is None)
    if unknown.any() or not (numbers | texts.notna()).all():
        raise bad(f"a value of '{name}' is not a number or null")
    values = column.where(texts.isna(), texts.map(NON_FINITE_JSON)).astype("float64")
    return values, texts.notna() | ~np.isfinite(values.fillna(0.0))


def validate_samples(payload: object, variables: list[str], scope: RunScope) -> Samples:
    """The JSON answer of /data."""
    bad = _unusable(scope)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise bad("it has no 'data' list")
    rows = payload["data"]
    stated = payload.get("count")
    if not isinstance(stated, int) or isinstance(stated, bool):
        raise _incomplete(scope)("it states no row count ('count' after 'data')")
    if stated != len(rows):
        raise _incomplete(scope)(f"it holds {len(rows)} rows but states {stated}")
    with_turbine = len(scope.turbines) > 1
    columns = ["timestamp", *(["turbine"] if with_turbine else []), *variables]
    frame = pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    if rows and any(not isinstance(row, dict) or set(row) != set(columns) for row in rows):
        raise bad(f"rows must have exactly the fields {columns}")
    try:
        timestamps = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise bad(f"a timestamp is not ISO-8601 ({exc})") from None
    turbines = frame["turbine"] if with_turbine else pd.Series(scope.turbines[0], index=frame.index)
    values, non_finite = {}, {}
    for name in variables:
        values[name], non_finite[name] = _json_numbers(frame[name], name, bad)
    samples = _checked(timestamps, turbines, pd.DataFrame(values), pd.DataFrame(non_finite), bad, scope)
    if "fingerprints" in payload:
        samples.fingerprints = _fingerprints(payload.get("fingerprints"), payload.get("newest"), bad)
    return samples


def validate_arrow(content: bytes, variables: list[str], scope: RunScope) -> Samples:
    """The Arrow IPC answer of /data, whole (``whole_arrow``) and held to the same checks as ``validate_samples``."""
    bad = _unusable(scope)
    table = whole_arrow(content, bad, _incomplete(scope))
    with_turbine = len(scope.turbines) > 1
    columns = ["timestamp", *(["turbine"] if with_turbine else []), *variables]
    if table.schema.names != columns:
        raise bad(f"its columns are {table.schema.names}, not {columns}")
    kind = table.schema.field("timestamp").type
    if not (pa.types.is_timestamp(kind) and kind.tz in ("UTC", "+00:00", "Z")):
        raise bad(f"'timestamp' is {kind}, not a UTC timestamp")
    for name in variables:
        kind = table.schema.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)):
            raise bad(f"'{name}' is {kind}, not a number or null")
    timestamps = pd.Series(pd.to_datetime(table.column("timestamp").to_pandas(), utc=True))
    turbines = (
        table.column("turbine").to_pandas().astype(str)
        if with_turbine
        else pd.Series(scope.turbines[0], index=timestamps.index)
    )
    values, non_finite = {}, {}
    for name in variables:
        column = table.column(name).cast(pa.float64())
        numbers = column.to_numpy(zero_copy_only=False)  # nulls as NaN
        valid = ~column.is_null().to_numpy(zero_copy_only=False)
        values[name], non_finite[name] = numbers, valid & ~np.isfinite(numbers)
    samples = _checked(timestamps, turbines, pd.DataFrame(values), pd.DataFrame(non_finite), bad, scope)
    stated = (table.schema.metadata or {}).get(FINGERPRINTS_METADATA_KEY.encode())
    if stated is not None:
        try:
            document = orjson.loads(stated)
        except orjson.JSONDecodeError as exc:
            raise bad(f"its metadata '{FINGERPRINTS_METADATA_KEY}' is not JSON ({exc})") from None
        if not isinstance(document, dict):
            raise bad(f"its metadata '{FINGERPRINTS_METADATA_KEY}' is not a JSON object")
        samples.fingerprints = _fingerprints(document.get("fingerprints"), document.get("newest"), bad)
    return samples


def _fingerprints(rows: object, newest: object, bad) -> SourceFingerprints:
    """The fingerprints an answer of /data carries (``SourceFingerprints``), or ``bad`` naming what is wrong."""
    try:
        if not isinstance(rows, list):
            raise TypeError("'fingerprints' is not a list")
        return SourceFingerprints.from_json(rows, None if newest is None else str(newest))
    except (KeyError, TypeError, ValueError) as exc:
        raise bad(f"its fingerprints are not the API's ({exc!r})") from None


def fetch_fingerprints(
    settings: Settings,
    start_day: dt.date,
    end_day: dt.date,
    farm: str | None = None,
    turbines: Sequence[str] | None = None,
    *,
    client: httpx.Client | None = None,
) -> SourceFingerprints:
    """The fingerprints of the days ``[start_day, end_day)`` (GET /fingerprints) of the farm named ``farm`` (None:
    every farm's turbines) or of ``turbines`` (names), and the newest sample of those turbines from ``start_day``
    on, with the source's version: what changed, without reading a sample. A range longer than one answer
    holds is asked for in parts (each one state of the source; the version is the last part's)."""
    if start_day >= end_day:
        raise ConfigurationError(
            f"The days {start_day.isoformat()} to {end_day.isoformat()} are no range: the end is exclusive and must "
            "come after the start.",
            "Give an end day after the start day.",
            setting="end",
        )
    retry = RetryPolicy.from_settings(settings)
    owns_client = client is None
    client = client or make_client(settings)
    parts, newest, version = [], None, None
    try:
        first = start_day
        while first < end_day:
            end = min(end_day, first + dt.timedelta(days=MAX_FINGERPRINT_DAYS))
            params: dict = {"start": first.isoformat(), "end": end.isoformat()}
            if farm is not None:
                params["farm"] = farm
            if turbines is not None:
                params["turbine"] = list(turbines)
            response = get(client, "/fingerprints", params, retry=retry)
            version = source_version(response)
            try:
                payload = orjson.loads(response.content)
                stated = SourceFingerprints.from_json(payload["fingerprints"], payload.get("newest"), version)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise SourceRequestError(
                    str(response.url), response.status_code, f"the answer is not a list of fingerprints ({exc!r})"
                ) from None
            parts.extend(stated.fingerprints)
            if first == start_day:  # the newest sample from start_day on: the first part sees every later day
                newest = stated.newest
            first = end
    finally:
        if owns_client:
            client.close()
    return SourceFingerprints(tuple(parts), newest, version)


# An Arrow IPC message starts with this continuation marker; the stream ends with it and a zero length.
_ARROW_CONTINUATION = b"\xff\xff\xff\xff"
_ARROW_END_OF_STREAM = _ARROW_CONTINUATION + b"\x00\x00\x00\x00"


def whole_arrow(content: bytes, bad, incomplete) -> pa.Table:
    """The Arrow IPC stream as a table if it is whole: it ends with the end-of-stream marker, and its
    last (empty) batch states in its custom metadata the rows of the batches before it. pyarrow alone
    reads a stream cut after any batch without complaint."""
    try:
        reader = pa.ipc.open_stream(content)
        batches, stated = [], None
        while True:
            try:
                batch, metadata = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                break
            batches.append(batch)
            stated = metadata.get(COUNT_METADATA_KEY) if metadata is not None else None
    except (pa.ArrowInvalid, OSError) as exc:
        if content.startswith(_ARROW_CONTINUATION):
            raise incomplete(f"the Arrow IPC stream breaks off ({exc})") from None
        raise bad(f"it is not a complete Arrow IPC stream ({exc})") from None
    if not content.endswith(_ARROW_END_OF_STREAM):
        raise incomplete("the Arrow IPC stream has no end-of-stream marker")
    rows = sum(batch.num_rows for batch in batches)
    if stated is None:
        raise incomplete(
            f"the Arrow IPC stream states no row count (metadata '{COUNT_METADATA_KEY}' of its last batch)"
        )
    if stated != str(rows).encode():
        raise incomplete(f"the Arrow IPC stream holds {rows} rows but states {stated.decode(errors='replace')}")
    return pa.Table.from_batches(batches, schema=reader.schema)


def _checked(
    timestamps: pd.Series, turbines: pd.Series, values: pd.DataFrame, non_finite: pd.DataFrame, bad, scope: RunScope
) -> Samples:
    """Timestamps present and inside the day, turbines the ones asked for, ``(turbine, timestamp)``
    unique; floats indexed by ``(turbine, timestamp)`` in order, unusable values as NaN."""
    if timestamps.isna().any():
        raise bad("a timestamp is missing")
    if len(timestamps) and (timestamps.min() < scope.start or timestamps.max() >= scope.end):
        raise bad("a timestamp lies outside the requested day")
    strangers = sorted(set(turbines.unique()) - set(scope.turbines))
    if strangers:
        raise bad(f"it holds turbine(s) {', '.join(map(repr, strangers[:5]))} that were not asked for")
    index = pd.MultiIndex.from_arrays(
        [pd.Categorical(turbines.to_numpy(), categories=list(scope.turbines)), pd.DatetimeIndex(timestamps)],
        names=["turbine", "timestamp"],
    )
    if index.duplicated().any():
        turbine, stamp = index[index.duplicated()][0]
        raise bad(f"timestamp {stamp.isoformat()} appears twice for turbine {turbine}")
    values = values.astype("float64").set_axis(index).mask(non_finite.to_numpy())
    return Samples(values.sort_index(), non_finite.astype(bool).set_axis(index).sort_index())
