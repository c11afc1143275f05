#!/usr/bin/env bash
# Times `audit` on a lineage 50 merges deep inside a catalog of 100,000 versions (docs/benchmarks-registry.md).
# Needs the test PostgreSQL: bash scripts/services/postgres.sh start && source .services/postgres.env
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${QUIVER_TEST_DATABASE_URL:?start the test server: bash scripts/services/postgres.sh start && source .services/postgres.env}"
DB=quiver_bench_audit
psql "$QUIVER_TEST_DATABASE_URL" -XqAt -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
swift build --product QuiverBench ${BUILD_FLAGS:-}
"$(swift build --show-bin-path ${BUILD_FLAGS:-})/QuiverBench" audit-catalog --database-url "${QUIVER_TEST_DATABASE_URL%/*}/$DB" "$@"
psql "$QUIVER_TEST_DATABASE_URL" -XqAt -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
