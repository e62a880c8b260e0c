"""Change tracking: ``day_fingerprint``, one row per (UTC day, turbine) that has samples, kept current by
triggers on ``data``, and filled for the rows already there.

A fingerprint is the day's ``row_count``, a ``checksum`` and its newest sample (``last_timestamp``). The
checksum is the sum, modulo 2**64, of a 64-bit hash of each row (its timestamp and its values, hashed by
PostgreSQL's own ``hash_record_extended``, which reads the values' binary form: no session setting such as
``TimeZone`` or ``extra_float_digits`` changes it). A sum does not depend on the order rows arrive in and is
kept current by adding the hashes of the rows inserted and subtracting those of the rows deleted; any change
of a value, a row more or a row less changes it (but for a 2**-64 chance).

The triggers are statement-level with transition tables: a COPY or an INSERT of a day of a farm is one
grouped upsert, not a trigger call per row. UPDATE subtracts the old rows and adds the new; DELETE
subtracts and recomputes the newest timestamp of the days it touched (an index probe each); a day left
without rows loses its fingerprint; TRUNCATE empties the table.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# As this revision made them (a later change is a revision of its own).
TABLE = "day_fingerprint"

_WRAP = """
CREATE FUNCTION day_fingerprint_wrap(x numeric) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ((((x % 18446744073709551616) + 27670116110564327424) % 18446744073709551616)
            - 9223372036854775808)::bigint
$$;
COMMENT ON FUNCTION day_fingerprint_wrap(numeric) IS 'x modulo 2**64, as a signed 64-bit integer';

CREATE FUNCTION day_fingerprint_hash(ts timestamptz, wind_speed float8, power float8, ambient_temperature float8)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hash_record_extended(ROW(ts, wind_speed, power, ambient_temperature), 0)
$$;
COMMENT ON FUNCTION day_fingerprint_hash(timestamptz, float8, float8, float8) IS 'a row''s 64-bit hash';
"""

_COLUMNS = 'turbine_id, "timestamp", wind_speed, power, ambient_temperature'
# What each statement changed, as signed rows: +1 a row that came, -1 a row that went.
_CHANGES = {
    "insert": f"SELECT 1 AS sign, {_COLUMNS} FROM new_rows",
    "update": f"SELECT -1 AS sign, {_COLUMNS} FROM old_rows UNION ALL SELECT 1, {_COLUMNS} FROM new_rows",
    "delete": f"SELECT -1 AS sign, {_COLUMNS} FROM old_rows",
}
# Per (day, turbine): the rows and the hashes added up, signed; the newest timestamp of the rows that came.
_MERGE = """
    INSERT INTO day_fingerprint AS f (day, turbine_id, row_count, checksum, last_timestamp, changed_at)
    SELECT ("timestamp" AT TIME ZONE 'UTC')::date, turbine_id, sum(sign),
           day_fingerprint_wrap(sum(sign * day_fingerprint_hash("timestamp", wind_speed, power, ambient_temperature)::numeric)),
           max(CASE WHEN sign > 0 THEN "timestamp" END), now()
    FROM ({changes}) AS c
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (day, turbine_id) DO UPDATE SET
        row_count = f.row_count + EXCLUDED.row_count,
        checksum = day_fingerprint_wrap(f.checksum::numeric + EXCLUDED.checksum::numeric),
        last_timestamp = greatest(f.last_timestamp, EXCLUDED.last_timestamp),
        changed_at = EXCLUDED.changed_at;
"""
# Rows went: the days they left may have lost their newest row (an index probe each), or every row.
_GONE = """
    UPDATE day_fingerprint AS f SET last_timestamp = (
        SELECT max(d."timestamp") FROM data AS d
        WHERE d.turbine_id = f.turbine_id
          AND d."timestamp" >= (f.day::timestamp AT TIME ZONE 'UTC')
          AND d."timestamp" < ((f.day + 1)::timestamp AT TIME ZONE 'UTC'))
    FROM (SELECT DISTINCT turbine_id, ("timestamp" AT TIME ZONE 'UTC')::date AS day FROM old_rows) AS gone
    WHERE f.turbine_id = gone.turbine_id AND f.day = gone.day;
    DELETE FROM day_fingerprint AS f
    USING (SELECT DISTINCT turbine_id, ("timestamp" AT TIME ZONE 'UTC')::date AS day FROM old_rows) AS gone
    WHERE f.turbine_id = gone.turbine_id AND f.day = gone.day AND f.row_count <= 0;
"""
_BODIES = {
    "insert": _MERGE.format(changes=_CHANGES["insert"]),
    "update": _MERGE.format(changes=_CHANGES["update"]) + _GONE,
    "delete": _MERGE.format(changes=_CHANGES["delete"]) + _GONE,
    "truncate": "    TRUNCATE day_fingerprint;\n",
}


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE {TABLE} (
            day date NOT NULL,
            turbine_id integer NOT NULL,
            row_count integer NOT NULL,
            checksum bigint NOT NULL,
            last_timestamp timestamptz,
            changed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT day_fingerprint_pkey PRIMARY KEY (day, turbine_id)
        );
        COMMENT ON TABLE {TABLE} IS 'each (UTC day, turbine) with samples: rows, checksum, newest sample (docs/live.md)';
        COMMENT ON COLUMN {TABLE}.checksum IS 'sum modulo 2**64 of each row''s hash_record_extended';
        CREATE INDEX day_fingerprint_turbine_day_idx ON {TABLE} (turbine_id, day);
        """
    )
    op.execute(_WRAP)
    # One function per event: a trigger with transition tables handles one event, and each reads its own.
    for event, body in _BODIES.items():
        op.execute(
            f"CREATE FUNCTION day_fingerprint_{event}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}"
            "    RETURN NULL;\nEND\n$$;"
        )
    op.execute(
        "CREATE TRIGGER day_fingerprint_insert AFTER INSERT ON data REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION day_fingerprint_insert()"
    )
    op.execute(
        "CREATE TRIGGER day_fingerprint_update AFTER UPDATE ON data REFERENCING OLD TABLE AS old_rows "
        "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION day_fingerprint_update()"
    )
    op.execute(
        "CREATE TRIGGER day_fingerprint_delete AFTER DELETE ON data REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION day_fingerprint_delete()"
    )
    op.execute(
        "CREATE TRIGGER day_fingerprint_truncate AFTER TRUNCATE ON data "
        "FOR EACH STATEMENT EXECUTE FUNCTION day_fingerprint_truncate()"
    )
    # The rows already there, in one pass.
    op.execute(
        f"""
        INSERT INTO {TABLE} (day, turbine_id, row_count, checksum, last_timestamp)
        SELECT ("timestamp" AT TIME ZONE 'UTC')::date, turbine_id, count(*),
               day_fingerprint_wrap(sum(day_fingerprint_hash("timestamp", wind_speed, power, ambient_temperature))),
               max("timestamp")
        FROM data GROUP BY 1, 2
        """
    )
