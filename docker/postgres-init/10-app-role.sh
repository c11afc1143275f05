#!/bin/bash
# Runs once, when the PostgreSQL container initialises its data directory (docker-entrypoint-initdb.d): creates the
# application's role. The owner (POSTGRES_USER) runs `quiver db migrate --app-role quiver_app`, which creates the
# tables and grants this role what the server and workers need: the registry's tables, but only SELECT and INSERT on
# the audit trail (docs/security.md).
set -euo pipefail
psql -v ON_ERROR_STOP=1 -v app_password="$QUIVER_APP_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE quiver_app LOGIN PASSWORD :'app_password';
SQL
