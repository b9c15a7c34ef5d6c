#!/bin/sh
# A /docker-entrypoint-initdb.d script of the postgres image (used by k8s/base and docker-compose.yml):
# runs once, on an empty data directory, before the server accepts TCP connections.
# Creates one database per service, owned by POSTGRES_USER: the space-separated names in POSTGRES_DATABASES.
set -e
for db in ${POSTGRES_DATABASES:-}; do
  echo "create-databases: creating database $db"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres --set db="$db" <<'SQL'
CREATE DATABASE :"db";
SQL
done
