"""Response models: they document the OpenAPI schema of every route."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from etl_lib.core.categories import Category as CategoryEnum


class Variable(BaseModel):
    name: str = Field(examples=["wind_speed"])
    unit: str = Field(examples=["m/s"])
    description: str


class VariablesResponse(BaseModel):
    variables: list[Variable]


class Coverage(BaseModel):
    first: dt.datetime | None = Field(description="Earliest timestamp in the source, or null when empty.")
    last: dt.datetime | None = Field(description="Latest timestamp in the source, or null when empty.")
    rows: int


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])


# A sample's value in JSON: a number, null when missing, or one of the strings NaN, Infinity and
# -Infinity (JSON has no such numbers; Arrow carries them as float64).
SampleValue = float | Literal["NaN", "Infinity", "-Infinity"] | None


class DataRow(BaseModel):
    """One 1-minute sample; only the requested variables are present (each a number, null when missing,
    or "NaN", "Infinity" or "-Infinity"), and ``turbine`` when the answer can hold more than one turbine."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, SampleValue] = Field(init=False)
    timestamp: dt.datetime
    turbine: str | None = Field(None, examples=["WT01"])


class Fingerprint(BaseModel):
    turbine: str = Field(examples=["WT01"])
    day: dt.date = Field(description="The UTC day.")
    rows: int = Field(description="The turbine's samples (rows) that day.")
    checksum: str = Field(
        description="16 hexadecimal digits: the sum modulo 2**64 of a 64-bit hash of each row (its timestamp and "
        "values). Any changed value, row more or row less changes it.",
        examples=["1bc6e2f0a9d3c417"],
    )
    last_timestamp: dt.datetime | None = Field(description="The turbine's newest sample that day, UTC.")


class DataResponse(BaseModel):
    start: dt.datetime = Field(description="Inclusive start of the interval, UTC.")
    end: dt.datetime = Field(description="Exclusive end of the interval, UTC.")
    turbines: list[str] = Field(description="The turbines asked for, in the farm's order.")
    variables: list[str]
    fingerprints: list[Fingerprint] = Field(
        description="The fingerprints of the turbines asked for on the UTC days the interval touches (as "
        "/fingerprints), read in the same snapshot as the rows: what the rows are a state of."
    )
    newest: dt.datetime | None = Field(
        description="The newest sample of the turbines asked for on the interval's first day or later (null: "
        "none): how far the source has come, which tells a day that is not over yet."
    )
    data: list[DataRow] = Field(
        description="Rows ordered by timestamp, then turbine. A value is a number, null when missing, or the "
        'string "NaN", "Infinity" or "-Infinity" for a sample that is not a finite number.'
    )
    count: int = Field(
        description="The rows in 'data': the answer's last member, written after them. An answer without it, "
        "or whose rows differ from it, is incomplete."
    )


class PowerCurve(BaseModel):
    wind_speed: list[float] = Field(description="m/s, ascending")
    power: list[float] = Field(description="kW at each wind speed; interpolated linearly between the points")


class TurbineModel(BaseModel):
    name: str = Field(examples=["V90/2000"])
    manufacturer: str | None
    rated_power: float = Field(description="kW")
    cut_in: float = Field(description="m/s")
    cut_out: float = Field(description="m/s")
    hub_height: float | None = Field(description="m")
    rotor_diameter: float | None = Field(description="m")
    source: str | None = Field(description="Where the power curve comes from.")
    curve: PowerCurve


class Farm(BaseModel):
    name: str = Field(examples=["WF01"], description="The farm's name: the value of farm= on the other routes.")
    latitude: float | None = Field(description="degrees north (WGS 84)")
    longitude: float | None = Field(description="degrees east (WGS 84)")
    elevation: float | None = Field(description="m above sea level")
    turbines: int = Field(description="How many turbines it has.")


class FarmsResponse(BaseModel):
    farms: list[Farm]


class Turbine(BaseModel):
    name: str = Field(examples=["WT01"])
    farm: str = Field(examples=["WF01"], description="The farm it belongs to (see /farms).")
    latitude: float | None
    longitude: float | None
    elevation: float | None = Field(None, description="m above sea level (for the air's density)")
    model: TurbineModel


class TurbinesResponse(BaseModel):
    turbines: list[Turbine]


Category = Literal[*(category.value for category in CategoryEnum)]  # IEC 61400-26-1, as core.categories


class StatusCode(BaseModel):
    code: int = Field(examples=[53])
    description: str = Field(examples=["Fault: gearbox oil temperature high"])
    category: Category = Field(description="The IEC 61400-26-1 information category the code stands for.")


class StatusCodesResponse(BaseModel):
    status_codes: list[StatusCode]


class Event(BaseModel):
    turbine: str = Field(examples=["WT04"])
    start_time: dt.datetime
    end_time: dt.datetime | None = Field(description="Null while the event lasts.")
    code: int
    category: Category
    description: str


class EventsResponse(BaseModel):
    start: dt.datetime = Field(description="Inclusive start of the interval, UTC.")
    end: dt.datetime = Field(description="Exclusive end of the interval, UTC.")
    turbines: list[str] = Field(description="The turbines asked for, in the farm's order.")
    events: list[Event] = Field(
        description="The events that overlap [start, end), ordered by start, then turbine; an event is not cut "
        "to the interval."
    )
    count: int = Field(description="The events sent: the answer's last member. An answer without it is incomplete.")


class ErrorResponse(BaseModel):
    detail: str = Field(description="What is wrong with the request and how to fix it.")


class FingerprintsResponse(BaseModel):
    start: dt.date = Field(description="First UTC day, inclusive.")
    end: dt.date = Field(description="Last UTC day, exclusive.")
    turbines: list[str] = Field(description="The turbines asked for, in the farm's order.")
    fingerprints: list[Fingerprint] = Field(
        description="Each (day, turbine) with samples, by day then turbine; a day without samples has none."
    )
    newest: dt.datetime | None = Field(
        description="The newest sample of these turbines on start or later (null: none): how far the source has "
        "come, which tells a day that is not over yet."
    )
    count: int = Field(description="How many fingerprints the answer holds.")
