"""The yardstick of `etl run --no-report`: the plainest one-file implementation of the same task.

Fetch one UTC day of the farm over httpx (JSON), aggregate each turbine's wind speed and power to
10-minute mean, min, max and std with pandas (the same values as the ETL's, to about 1e-12), and
replace the day's rows in one table with SQLAlchemy (one transaction). No quality checks, no run
record, no retries, no signal table: what a take-home pipeline does. ``make bench`` times it as a
whole process beside ``etl run --no-report`` on the same stack, so the ratio of the two does not
depend on how fast the machine is that day.

    python benchmarks/reference_etl.py API_URL TARGET_DATABASE_URL YYYY-MM-DD

It imports nothing of the project's on purpose (its imports are part of what is timed).
"""

import datetime as dt
import sys

import httpx
import pandas as pd
import sqlalchemy as sa

VARIABLES = ("wind_speed", "power")  # the statistics the ETL keeps (it reads temperature for its checks only)


def main(api_url: str, target_url: str, day: str) -> None:
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    params = {"start": start.isoformat(), "end": end.isoformat(), "variables": ",".join(VARIABLES)}
    response = httpx.get(f"{api_url}/data", params=params, timeout=60)
    response.raise_for_status()
    samples = pd.DataFrame(response.json()["data"])
    samples["timestamp"] = pd.to_datetime(samples["timestamp"], utc=True)

    wide = samples.pivot(index="timestamp", columns="turbine", values=list(VARIABLES))
    stats = wide.resample("10min").agg(["mean", "min", "max", "std"])  # columns: variable, turbine, statistic
    rows = stats.stack([0, 1, 2], future_stack=True).rename("value").reset_index()
    rows.columns = ["timestamp", "variable", "turbine", "statistic", "value"]
    rows["signal"] = rows["turbine"] + "." + rows["variable"] + "_" + rows["statistic"]
    rows = rows[["timestamp", "signal", "value"]]

    engine = sa.create_engine(target_url)
    table = sa.Table(
        "reference_data",
        sa.MetaData(),
        sa.Column("timestamp", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("signal", sa.Text, primary_key=True),
        sa.Column("value", sa.Float),
    )
    with engine.begin() as conn:
        table.create(conn, checkfirst=True)
        conn.execute(table.delete().where(table.c.timestamp >= start, table.c.timestamp < end))
        conn.execute(table.insert(), rows.to_dict("records"))
    print(f"{day}: {len(samples)} samples, {len(rows)} rows written")


if __name__ == "__main__":
    main(*sys.argv[1:])
