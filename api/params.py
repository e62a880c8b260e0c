"""Query parameters as pydantic models (``extra="forbid"``: an unknown parameter is a 422), and the
parsing that turns them into an interval and a list of variables, with messages that say what to
send instead."""

# No `from __future__ import annotations`: FastAPI reads the annotations of ``query``'s dependency.
import datetime as dt
from typing import Annotated, get_args, get_origin

from fastapi import Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from etl_lib.core.contract import ARROW_MEDIA_TYPE, FARM_NAME_PATTERN, SOURCE_VARIABLES

VALID = ", ".join(SOURCE_VARIABLES)


# The parameters several routes share, declared once (pydantic's reusable Annotated fields).
OneFarm = Annotated[
    str | None,
    Field(
        pattern=FARM_NAME_PATTERN,  # what the source's farm table allows (its CHECK): other text is no farm
        description="Only the turbines of this farm (its name, see /farms); default: every farm. An unknown farm is "
        "a 422 naming the valid ones.",
        examples=["WF01"],
    ),
]
SomeTurbines = Annotated[
    list[str] | None,
    Field(
        description="Turbines (names, see /turbines), repeated or comma-separated, as for /data; default (neither "
        "this nor 'turbine'): every turbine.",
        examples=[["WT01", "WT02"]],
    ),
]
ExactTurbines = Annotated[
    list[str] | None,
    Field(
        description="The exact form, as for /data: one turbine's name per value, as it stands.",
        examples=[["WT01"]],
    ),
]


class NoParameters(BaseModel):
    """A route that takes no query parameters."""

    model_config = ConfigDict(extra="forbid")


class FarmParameters(BaseModel):
    """The parameters of a route that can keep to one farm (``/turbines``, ``/coverage``)."""

    model_config = ConfigDict(extra="forbid")

    farm: OneFarm = None


class DataParameters(BaseModel):
    """The parameters of ``/data``."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(
        description="Inclusive start, ISO-8601 (e.g. 2024-10-01T00:00:00Z). "
        "An instant without a UTC offset is taken as UTC.",
        examples=["2024-10-01T00:00:00Z"],
    )
    end: str = Field(
        description="Exclusive end, ISO-8601, after start. An instant without offset is taken as UTC.",
        examples=["2024-10-02T00:00:00Z"],
    )
    variables: list[str] = Field(
        description=f"Variables to return, repeated (variables=a&variables=b) or comma-separated. One of: {VALID}.",
        examples=[["wind_speed", "power"]],
    )
    turbines: list[str] | None = Field(
        None,
        description="Turbines to return (names, see /turbines), repeated or comma-separated, spaces around a "
        "name ignored; a value that is a turbine's whole name as it stands is that turbine, even with a comma in "
        "it. Default (neither this nor 'turbine'): every turbine. The answer has a 'turbine' column whenever it "
        "can hold more than one turbine.",
        examples=[["WT01", "WT02"]],
    )
    turbine: list[str] | None = Field(
        None,
        description="The exact form: one turbine's name per value, as it stands (never split at commas, "
        "spaces kept), repeated for several (turbine=WT01&turbine=WT02). Any name the source holds can be "
        "given so. May be combined with 'turbines'.",
        examples=[["WT01"]],
    )
    farm: str | None = Field(
        None,
        pattern=FARM_NAME_PATTERN,  # what the source's farm table allows (its CHECK): other text is no farm
        description="Only turbines of this farm (its name, see /farms); default: every farm. The turbines named "
        "must be the farm's; an unknown farm is a 422 naming the valid ones.",
        examples=["WF01"],
    )
    format: str | None = Field(
        None,
        description="Response format, json or arrow; overrides the Accept header. "
        f"Default: JSON, unless Accept asks for Arrow ({ARROW_MEDIA_TYPE}).",
        examples=["arrow"],
    )


class EventParameters(BaseModel):
    """The parameters of ``/events``."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(
        description="Inclusive start, ISO-8601; the events that overlap [start, end) are returned.",
        examples=["2024-10-01T00:00:00Z"],
    )
    end: str = Field(description="Exclusive end, ISO-8601, after start.", examples=["2024-10-02T00:00:00Z"])
    turbines: SomeTurbines = None
    turbine: ExactTurbines = None
    farm: OneFarm = None


class FingerprintParameters(BaseModel):
    """The parameters of ``/fingerprints``."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(description="First UTC day (YYYY-MM-DD), inclusive.", examples=["2024-10-01"])
    end: str = Field(description="Last UTC day (YYYY-MM-DD), exclusive, after start.", examples=["2024-10-11"])
    turbines: SomeTurbines = None
    turbine: ExactTurbines = None
    farm: OneFarm = None


def _repeatable(model: type[BaseModel], name: str) -> bool:
    """A list parameter (also an optional one) may repeat."""
    annotation = model.model_fields[name].annotation
    return any(get_origin(kind) is list for kind in (annotation, *get_args(annotation)))


def query(model: type[BaseModel]):
    """A dependency reading ``model`` from the query string; a parameter that is not a list must
    come once (``start=a&start=b`` is refused rather than silently taking one of them)."""

    may_repeat = [name for name in model.model_fields if _repeatable(model, name)]  # once, not per request
    once = [name for name in model.model_fields if name not in may_repeat]

    async def parameters(request: Request, values: Annotated[model, Query()]) -> BaseModel:  # no I/O: no thread
        repeated = sorted(name for name in once if len(request.query_params.getlist(name)) > 1)
        if repeated:
            raise bad_request(
                f"Parameter(s) {', '.join(repr(r) for r in repeated)} given more than once. Give each once"
                + (f"; only {', '.join(may_repeat)} may repeat." if may_repeat else ".")
            )
        return values

    return Depends(parameters)


def bad_request(message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=message)


def parse_instant(name: str, value: str) -> dt.datetime:
    """ISO-8601 instant; a naive one is taken as UTC."""
    try:
        instant = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise bad_request(
            f"Parameter '{name}' = {value[:64]!r} is not an ISO-8601 instant. "
            "Use e.g. 2024-10-01T00:00:00Z (a time without offset is taken as UTC)."
        ) from None
    if instant.tzinfo is None:
        return instant.replace(tzinfo=dt.UTC)
    try:
        return instant.astimezone(dt.UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is in the year 0 in UTC
        raise bad_request(
            f"Parameter '{name}' = {value[:64]!r} lies outside the years 1 to 9999 once converted to UTC. "
            "Use an instant from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z."
        ) from None


def parse_interval(start: str, end: str, max_days: int) -> tuple[dt.datetime, dt.datetime]:
    begin, finish = parse_instant("start", start), parse_instant("end", end)
    if begin >= finish:
        raise bad_request(
            f"'start' ({begin.isoformat()}) must be before 'end' ({finish.isoformat()}): "
            "the interval is half-open [start, end)."
        )
    if finish - begin > dt.timedelta(days=max_days):
        raise bad_request(
            f"The interval {begin.isoformat()} to {finish.isoformat()} is longer than the maximum of "
            f"{max_days} days. Page through it with several requests of at most {max_days} days."
        )
    return begin, finish


def parse_day(name: str, value: str) -> dt.date:
    """A UTC day in the form YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise bad_request(
            f"Parameter '{name}' = {value[:64]!r} is not a day in the form YYYY-MM-DD (e.g. 2024-10-01)."
        ) from None


def parse_days(start: str, end: str, max_days: int) -> tuple[dt.date, dt.date]:
    """The half-open range of UTC days ``[start, end)``, at most ``max_days`` long."""
    first, finish = parse_day("start", start), parse_day("end", end)
    if first >= finish:
        raise bad_request(
            f"'start' ({first.isoformat()}) must be before 'end' ({finish.isoformat()}): the days are half-open "
            "[start, end), e.g. start=2024-10-01&end=2024-10-02 for one day."
        )
    if (finish - first).days > max_days:
        raise bad_request(
            f"The days {first.isoformat()} to {finish.isoformat()} are more than the maximum of {max_days}. "
            f"Page through them with several requests of at most {max_days} days."
        )
    return first, finish


def _names(values: list[str]) -> list[str]:
    """Repeated and comma-separated names, in the caller's order, without repeats."""
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return names


def _refuse_unknown(kind: str, names: list[str], known, valid: str) -> None:
    """400 naming (the first five of, each cut to 64 characters) the names not in ``known``, then ``valid``."""
    unknown = [name for name in names if name not in known]
    if unknown:
        shown = ", ".join(repr(name[:64]) for name in unknown[:5])
        raise bad_request(f"Unknown {kind}(s) {shown}. {valid}")


def refuse_unknown_farm(name: str, farms: list[str]) -> None:
    """422 naming the farm and the valid ones, unless ``name`` is one of ``farms``."""
    valid = ", ".join(farms[:20]) + (", …" if len(farms) > 20 else "")
    _refuse_unknown(
        "farm", [name], farms, f"Valid farms: {valid or '(none: the source is empty)'} (GET /farms lists them)."
    )


def parse_variables(values: list[str]) -> list[str]:
    names = _names(values)
    if not names:
        raise bad_request(f"No variable selected. Choose one or more of: {VALID}.")
    _refuse_unknown("variable", names, SOURCE_VARIABLES, f"Valid variables: {VALID}.")
    return names


def _turbine_names(values: list[str], farm: dict[str, int]) -> list[str]:
    """The human form: each value a farm's turbine by its whole name as it stands (a comma in a name is
    then no separator), else comma-separated names, spaces around them ignored."""
    names: list[str] = []
    for value in values:
        for name in [value] if value in farm else _names([value]):
            if name not in names:
                names.append(name)
    return names


def parse_turbines(values: list[str] | None, exact: list[str] | None, farm: dict[str, int]) -> dict[str, int]:
    """The selected turbines' ids by name, in the farm's order (default: every turbine of ``farm``, the turbines
    the request may name: a farm's, or the fleet's): ``values`` in the human form (``_turbine_names``),
    ``exact`` one name each, as it stands."""
    if values is None and exact is None:
        return farm
    names = _turbine_names(values or [], farm) + [name for name in exact or [] if name != ""]
    valid = ", ".join(repr(name) if _needs_exact(name) else name for name in list(farm)[:20]) + (
        ", …" if len(farm) > 20 else ""
    )
    if not names:
        raise bad_request(f"No turbine selected. Leave 'turbines' out for every turbine, or name some of: {valid}.")
    exact_hint = (
        " A name with a comma or with spaces at its ends is given exactly as turbine=<name>, one per parameter."
        if any(map(_needs_exact, farm))
        else ""
    )
    _refuse_unknown("turbine", names, farm, f"Valid turbines: {valid} (GET /turbines lists them).{exact_hint}")
    chosen = set(names)
    return {name: farm[name] for name in farm if name in chosen}


def _needs_exact(name: str) -> bool:
    """A name the comma-separated form cannot always carry."""
    return "," in name or name != name.strip()
