#!/bin/sh
# First-start script of the compose `postgres` service (mounted into /docker-entrypoint-initdb.d):
# one server, one database per store, because MLflow, its auth app and Optuna each keep their own
# `alembic_version` table and must not share a schema.
#   POSTGRES_USER, POSTGRES_DB                  the superuser and the database it connects to
#   MLFLOW_DB, MLFLOW_AUTH_DB, OPTUNA_DB        the databases to create
# It runs again natively in the tests (with PGHOST set), so it uses only psql.
set -eu

for db in "$MLFLOW_DB" "$MLFLOW_AUTH_DB" "$OPTUNA_DB"; do
    psql -v ON_ERROR_STOP=1 -v db="$db" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
done
