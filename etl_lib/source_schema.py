"""The source database: one table of 1-minute turbine samples."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, MetaData, Table

SOURCE_VARIABLES: tuple[str, ...] = ("wind_speed", "power", "ambient_temperature")
SAMPLE_PERIOD_SECONDS = 60
# The columnar answer of the API's /data (Arrow IPC stream), which the ETL asks for first.
ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"

metadata = MetaData()

source_data = Table(
    "data",
    metadata,
    Column("timestamp", DateTime(timezone=True), primary_key=True),
    *(Column(name, Float(precision=53)) for name in SOURCE_VARIABLES),
)
