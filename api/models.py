"""Response models: they document the OpenAPI schema of every route."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


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


class DataRow(BaseModel):
    """One 1-minute sample; only the requested variables are present."""

    model_config = ConfigDict(extra="allow")
    timestamp: dt.datetime


class DataResponse(BaseModel):
    start: dt.datetime = Field(description="Inclusive start of the interval, UTC.")
    end: dt.datetime = Field(description="Exclusive end of the interval, UTC.")
    variables: list[str]
    count: int
    data: list[DataRow] = Field(description="Rows ordered by timestamp; a missing value is null.")


class ErrorResponse(BaseModel):
    detail: str = Field(description="What is wrong with the request and how to fix it.")
