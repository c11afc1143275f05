#!/usr/bin/env bash
# quiver serve against its own OpenAPI document, checked by Schemathesis (property-based, from PyPI).
#
#   bench/server/schemathesis.sh [--max-examples 25] [--seed N] [--workers 2]
#
# Starts a throw-away PostgreSQL and SeaweedFS (scripts/services), builds quiver in release mode, registers two
# PEFT fixtures (so reads find data), creates an admin token, starts `quiver serve` on a free port, installs
# Schemathesis into .venv-schemathesis and runs it against http://127.0.0.1:PORT/openapi.json with that token.
# Checks: no 5xx (not_a_server_error), and every response documented: its status, content type, headers and body
# schema (status_code_conformance, content_type_conformance, response_headers_conformance,
# response_schema_conformance). Every phase runs (examples, coverage, fuzzing, stateful).
# Writes bench-out/schemathesis.txt (and the server's log to bench-out/schemathesis-serve.log); exits with
# Schemathesis's status. docs/server-conformance.md quotes the latest run.
set -euo pipefail
cd "$(dirname "$0")/../.."
MAX_EXAMPLES=25
SEED=""
WORKERS=2
while [[ $# -gt 0 ]]; do
    case "$1" in
        --max-examples) MAX_EXAMPLES="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --workers) WORKERS="$2"; shift 2 ;;
        *) echo "usage: $0 [--max-examples 25] [--seed N] [--workers 2]" >&2; exit 64 ;;
    esac
done
SCHEMATHESIS_VERSION="4.32.5"

bash scripts/bootstrap.sh >/dev/null
mkdir -p bench-out
OUT=bench-out/schemathesis.txt
SERVE_LOG=bench-out/schemathesis-serve.log
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    bash scripts/services/seaweedfs.sh stop >/dev/null 2>&1 || true
    bash scripts/services/postgres.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

if [[ ! -x .venv-schemathesis/bin/schemathesis ]] \
    || [[ "$(.venv-schemathesis/bin/schemathesis --version 2>/dev/null)" != *"$SCHEMATHESIS_VERSION"* ]]; then
    python3 -m venv .venv-schemathesis
    .venv-schemathesis/bin/pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

bash scripts/services/postgres.sh start
bash scripts/services/seaweedfs.sh start
# shellcheck disable=SC1091
source .services/postgres.env
# shellcheck disable=SC1091
source .services/s3.env
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
database() { echo "$QUIVER_TEST_DATABASE_URL" | sed -E "s#/[^/?]+(\\?|\$)#/$1\\1#"; }
psql "$QUIVER_TEST_DATABASE_URL" -qc "CREATE DATABASE quiver_schemathesis"

swift build -c release --product quiver --static-swift-stdlib 2>&1 | tail -1
QUIVER="$PWD/.build/release/quiver"
export QUIVER_DATABASE_URL; QUIVER_DATABASE_URL="$(database quiver_schemathesis)"
export QUIVER_BLOB_STORE="s3://$QUIVER_TEST_S3_BUCKET/schemathesis-$(date +%s)"
export AWS_ACCESS_KEY_ID="$QUIVER_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$QUIVER_TEST_S3_SECRET_KEY"
export AWS_REGION="$QUIVER_TEST_S3_REGION" AWS_ENDPOINT_URL_S3="$QUIVER_TEST_S3_ENDPOINT"
export QUIVER_ACTOR=schemathesis

FIX=Tests/Fixtures/peft-golden/adapters
"$QUIVER" register "$FIX/a1" --name a1 --tag suite=schemathesis >/dev/null
"$QUIVER" register "$FIX/a2" --name a2 --tag suite=schemathesis >/dev/null
# A name Schemathesis will not guess, so a generated DELETE /v1/tokens/{name} does not revoke the run's own token.
TOKEN=$("$QUIVER" token create --name "schemathesis-admin-$(date +%s)-$$" --scope admin)
PORT=$(free_port)
"$QUIVER" serve --port "$PORT" --log-level warning > "$SERVE_LOG" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "quiver serve did not start:" >&2; tail -20 "$SERVE_LOG" >&2; exit 1; }

ARGS=(
    run "http://127.0.0.1:$PORT/openapi.json"
    -H "Authorization: Bearer $TOKEN"
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
    --max-examples "$MAX_EXAMPLES"
    --workers "$WORKERS"
    --request-timeout 30
    --generation-database none
    --output-sanitize true
    --no-color
)
[[ -n "$SEED" ]] && ARGS+=(--seed "$SEED")
set +e
{
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores; quiver $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources openapi || echo '+changes'),"
    echo "schemathesis $SCHEMATHESIS_VERSION: schemathesis ${ARGS[*]//$TOKEN/***}"
    echo
    .venv-schemathesis/bin/schemathesis "${ARGS[@]}"
} 2>&1 | tee "$OUT"
STATUS=${PIPESTATUS[0]}
set -e
echo "schemathesis exited $STATUS; output in $OUT, server log in $SERVE_LOG" >&2
exit "$STATUS"
