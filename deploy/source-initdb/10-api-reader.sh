#!/bin/sh
# The API's read-only login role on the source database.
#
# The official postgres image runs this once, when the source-db volume is first initialised
# (/docker-entrypoint-initdb.d). The init service's `etl init` then grants the role SELECT on the
# source's tables and nothing more (etl_lib/storage/source.py: prepare_source). The role's session
# defaults are those of the embedded stack (etl_lib/config/settings.py: API_READER_ROLE_SETTINGS;
# tests/test_deployment.py checks they agree). Idempotent, so it can also be run by hand against an
# existing server:
#   POSTGRES_USER=etl POSTGRES_DB=source API_READER_PASSWORD=... sh deploy/source-initdb/10-api-reader.sh
set -eu
: "${API_READER_PASSWORD:?API_READER_PASSWORD is not set: copy .env.example to .env and set it there}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v reader_password="$API_READER_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE api_reader LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'api_reader') \gexec
ALTER ROLE api_reader WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'reader_password';
-- Every session of this role is read-only and bounded in time, whatever its client asks for at connect time.
ALTER ROLE api_reader SET default_transaction_read_only = on;
ALTER ROLE api_reader SET statement_timeout = '30s';
ALTER ROLE api_reader SET idle_in_transaction_session_timeout = '10s';
-- No temporary tables: PostgreSQL grants TEMPORARY to every role through PUBLIC.
SELECT format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SQL
