#!/usr/bin/env bash
# First start of the PostgreSQL container (docker-entrypoint-initdb.d): two databases, two users.
# Airflow's metadata and the safelink state (person data) are owned by different users, and neither
# database is open to PUBLIC, so a leaked Airflow password does not read the state. Same SQL as
# docs/deployment.md section 2 for a deployment without Docker.
set -euo pipefail
: "${AIRFLOW_DB_PASSWORD:?set AIRFLOW_DB_PASSWORD}" "${SAFELINK_DB_PASSWORD:?set SAFELINK_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v airflow_password="$AIRFLOW_DB_PASSWORD" -v safelink_password="$SAFELINK_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE safelink LOGIN PASSWORD :'safelink_password';
CREATE DATABASE safelink OWNER safelink;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
REVOKE ALL ON DATABASE safelink FROM PUBLIC;
SQL
