#!/usr/bin/env bash
# Quiver's reliability trials (issue 12): crash, fault, gc-fence race, load and secrets, against a private PostgreSQL
# and SeaweedFS that this script starts on loopback ports and stops again.
#
#   scripts/trials.sh [--quick|--full] [--only GROUPS-OR-STEPS] [--seed N]
#
# GROUPS: crash, pgkill, fence, fault, load, secrets; STEPS: register, merge, worker, gc, pull, postgres-kill,
# gc-fence, s3-restart-upload, s3-restart-download, gateway-blip, silent-endpoint, pg-restart-merge, corrupt-object,
# full-disk, load (scripts/trials/trials.py lists them).
#
# --quick (the default, run by scripts/test.sh in CI): a few trials of each kind, about 4 minutes.
# --full: 50 kill -9 trials per command, 10 PostgreSQL kills per command, a 3-minute gc race, every fault trial,
#         5 minutes of load; about 40 minutes. Its latest output goes in docs/reliability.md.
# The release binary is built first (or QUIVER_TRIALS_BIN names one). Output: bench-out/trials-<mode>/ (results.json,
# commands.log with every command's output, load.md, server.log). Exit 0 only with zero violations and zero hangs.
#
# The database is reached with passwords (owner and application role, pg_hba set to scram-sha-256) and S3 with the
# SeaweedFS secret, so the closing secrets check has something to find: it greps every output and log for them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

MODE=quick
EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) MODE=quick ;;
        --full) MODE=full ;;
        --only|--seed) EXTRA+=("$1" "$2"); shift ;;
        *) echo "usage: $0 [--quick|--full] [--only KINDS] [--seed N]" >&2; exit 64 ;;
    esac
    shift
done

bash scripts/bootstrap.sh >/dev/null
if [ -n "${QUIVER_TRIALS_BIN:-}" ]; then
    QUIVER="$QUIVER_TRIALS_BIN"
else
    swift build -c release --product quiver --static-swift-stdlib 2>&1 | tail -n 3
    QUIVER="$(swift build -c release --show-bin-path)/quiver"
fi

STATE="$ROOT/.services/trials"
OUT="$ROOT/bench-out/trials-$MODE"
rm -rf "$OUT"
mkdir -p "$STATE" "$OUT"
export QUIVER_PG_SERVICE_DIR="$STATE/pg" QUIVER_S3_SERVICE_DIR="$STATE/s3"
mkdir -p "$QUIVER_PG_SERVICE_DIR" "$QUIVER_S3_SERVICE_DIR"

stop_services() {
    # Keep the services' own logs with the results: a fault in a service is diagnosed from them (stop deletes them).
    cp "$QUIVER_S3_SERVICE_DIR/seaweedfs/weed.log" "$OUT/seaweedfs.log" 2>/dev/null || true
    cp "${QUIVER_TEST_PGDATA:-/nonexistent}/server.log" "$OUT/postgres.log" 2>/dev/null || true
    bash scripts/services/seaweedfs.sh stop >/dev/null 2>&1 || true
    bash scripts/services/postgres.sh stop >/dev/null 2>&1 || true
    # The full-disk trial mounts below $OUT; never leave a mount behind.
    if mountpoint -q "$OUT/full" 2>/dev/null; then umount "$OUT/full" || true; fi
}
trap stop_services EXIT

bash scripts/services/postgres.sh start >/dev/null 2>&1 || { echo "trials: PostgreSQL did not start" >&2; exit 1; }
bash scripts/services/seaweedfs.sh start >/dev/null 2>&1 || { echo "trials: SeaweedFS did not start" >&2; exit 1; }
# shellcheck disable=SC1091
source "$QUIVER_PG_SERVICE_DIR/postgres.env"
# shellcheck disable=SC1091
source "$QUIVER_S3_SERVICE_DIR/s3.env"

# Owner and application roles with recognisable passwords, then password authentication for TCP connections.
OWNER_PASSWORD="trials-owner-pw-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
APP_PASSWORD="trials-app-pw-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
psql -X -q -v ON_ERROR_STOP=1 -d "$QUIVER_TEST_DATABASE_URL" >/dev/null <<SQL
ALTER ROLE quiver PASSWORD '$OWNER_PASSWORD';
CREATE ROLE quiver_app LOGIN PASSWORD '$APP_PASSWORD';
CREATE DATABASE quiver_trials OWNER quiver;
SQL
HBA="$QUIVER_TEST_PGDATA/pg_hba.conf"
sed -E '/^host/ s/trust$/scram-sha-256/' "$HBA" >"$HBA.new" && cat "$HBA.new" >"$HBA" && rm -f "$HBA.new"
psql -X -q -d "$QUIVER_TEST_DATABASE_URL" -c 'SELECT pg_reload_conf()' >/dev/null

export TRIALS_PG_DIR="$QUIVER_PG_SERVICE_DIR" TRIALS_S3_DIR="$QUIVER_S3_SERVICE_DIR"
export TRIALS_OWNER_PASSWORD="$OWNER_PASSWORD" TRIALS_APP_PASSWORD="$APP_PASSWORD"
export TRIALS_OWNER_URL="postgresql://quiver:$OWNER_PASSWORD@127.0.0.1:$QUIVER_TEST_PGPORT/quiver_trials"
export TRIALS_SERVICE_LOGS="$QUIVER_TEST_PGDATA/server.log:$QUIVER_S3_SERVICE_DIR/seaweedfs/weed.log"
export QUIVER_DATABASE_URL="postgresql://quiver_app:$APP_PASSWORD@127.0.0.1:$QUIVER_TEST_PGPORT/quiver_trials"
export QUIVER_BLOB_STORE="s3://$QUIVER_TEST_S3_BUCKET/trials"
export AWS_ACCESS_KEY_ID="$QUIVER_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$QUIVER_TEST_S3_SECRET_KEY"
export AWS_REGION="$QUIVER_TEST_S3_REGION" AWS_ENDPOINT_URL_S3="$QUIVER_TEST_S3_ENDPOINT"
export QUIVER_ACTOR=trials PGCONNECT_TIMEOUT=10
unset QUIVER_TEST_DATABASE_URL QUIVER_TEST_S3_SECRET_KEY

# The owner migrates and grants the application's role; every trial runs as that role.
QUIVER_DATABASE_URL="$TRIALS_OWNER_URL" QUIVER_APP_ROLE=quiver_app "$QUIVER" db migrate >"$OUT/migrate.log" 2>&1 \
    || { cat "$OUT/migrate.log" >&2; exit 1; }
"$QUIVER" blob mb >>"$OUT/migrate.log" 2>&1 || { cat "$OUT/migrate.log" >&2; exit 1; }

set +e
python3 scripts/trials/trials.py --quiver "$QUIVER" --out "$OUT" --mode "$MODE" "${EXTRA[@]}" | tee "$OUT/summary.txt"
status="${PIPESTATUS[0]}"
set -e
exit "$status"
