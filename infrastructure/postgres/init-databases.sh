#!/usr/bin/env bash
# Creates the Dagster and Iceberg catalog databases on first start of the postgres container.
set -euo pipefail
for db in "${DAGSTER_PG_DB:-dagster}" "${ICEBERG_PG_DB:-iceberg}"; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
SELECT 'CREATE DATABASE "$db"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')\gexec
SQL
done
