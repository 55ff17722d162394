#!/bin/sh
# Runs once, when the postgres container initialises an empty data directory (docker-entrypoint-initdb.d).
# Creates the two roles ccmonitor's stack uses in the database $POSTGRES_DB:
#   $CCMONITOR_DB_USER (ccmonitor)       the writer: owns the database, so `ccmonitor serve` creates and
#                                        migrates its tables, partitions and rollups itself
#   $GRAFANA_DB_USER   (grafana_reader)  Grafana's datasource: SELECT on every table, now and later
#                                        (default privileges of the writer), read-only sessions, a
#                                        statement timeout, and no parallel workers: a refresh is two
#                                        dozen small queries at once, which workers only slow down
# The same SQL for a server you run yourself is in docs/docker.md ("The roles").
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v db="$POSTGRES_DB" \
  -v writer="${CCMONITOR_DB_USER:-ccmonitor}" -v writer_password="$CCMONITOR_DB_PASSWORD" \
  -v reader="${GRAFANA_DB_USER:-grafana_reader}" -v reader_password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE :"writer" LOGIN PASSWORD :'writer_password';
ALTER DATABASE :"db" OWNER TO :"writer";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT ALL ON SCHEMA public TO :"writer";

CREATE ROLE :"reader" LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"writer" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
ALTER ROLE :"reader" SET default_transaction_read_only = on;
ALTER ROLE :"reader" SET statement_timeout = '30s';
ALTER ROLE :"reader" SET max_parallel_workers_per_gather = 0;
SQL
