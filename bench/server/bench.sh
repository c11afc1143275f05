#!/usr/bin/env bash
# quiver serve against an MLflow model registry server, side by side in one run, on this machine.
#
#   bench/server/bench.sh [--duration 15s] [--connections 64]
#
# Starts a throw-away PostgreSQL and SeaweedFS (scripts/services), builds quiver in release mode, registers two
# PEFT fixtures and a chain of 10 merges (so the newest version has a lineage of depth 10), starts `quiver serve`
# with a read token, and times with wrk (64 connections, loopback):
#   - GET a version by NAME@VERSION           (GET /v1/versions/bench@11)
#   - its lineage, depth 10                   (GET /v1/versions/bench@11/lineage)
#   - an audit from a bare weights sha256     (GET /v1/audit/<sha256>)
# Then installs MLflow into .venv-mlflow (PostgreSQL backend, a database of its own), registers a model with the
# same number of versions (each tagged with a sha256), and times the nearest MLflow lookups:
#   - GET a model version                     (model-versions/get)
#   - all versions of the model               (model-versions/search by name; MLflow has no lineage)
#   - a version found from a sha256 tag       (model-versions/search by tag)
# Writes bench-out/server.md and prints it; docs/benchmarks.md quotes the latest run.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=15s
CONNECTIONS=64
MLFLOW=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --quiver-only) MLFLOW=0; shift ;;
        *) echo "usage: $0 [--duration 15s] [--connections 64] [--quiver-only]" >&2; exit 64 ;;
    esac
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || sudo apt-get install -y wrk >/dev/null; }
bash scripts/bootstrap.sh >/dev/null
mkdir -p bench-out
OUT=bench-out/server.md
WORK=$(mktemp -d)
SERVER_PID=""
MLFLOW_PID=""
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
    [[ -n "$MLFLOW_PID" ]] && kill "$MLFLOW_PID" 2>/dev/null || true
    bash scripts/services/seaweedfs.sh stop >/dev/null 2>&1 || true
    bash scripts/services/postgres.sh stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

bash scripts/services/postgres.sh start
bash scripts/services/seaweedfs.sh start
# shellcheck disable=SC1091
source .services/postgres.env
# shellcheck disable=SC1091
source .services/s3.env
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
database() { echo "$QUIVER_TEST_DATABASE_URL" | sed -E "s#/[^/?]+(\\?|\$)#/$1\\1#"; }
psql "$QUIVER_TEST_DATABASE_URL" -qc "CREATE DATABASE quiver_bench" -c "CREATE DATABASE mlflow_bench"

swift build -c release --product quiver --static-swift-stdlib 2>&1 | tail -1
QUIVER="$PWD/.build/release/quiver"
export QUIVER_DATABASE_URL; QUIVER_DATABASE_URL="$(database quiver_bench)"
export QUIVER_BLOB_STORE="s3://$QUIVER_TEST_S3_BUCKET/bench-$(date +%s)"
export AWS_ACCESS_KEY_ID="$QUIVER_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$QUIVER_TEST_S3_SECRET_KEY"
export AWS_REGION="$QUIVER_TEST_S3_REGION" AWS_ENDPOINT_URL_S3="$QUIVER_TEST_S3_ENDPOINT"
export QUIVER_ACTOR=bench

# The catalog: bench@1 = tone, then bench@k = svd(bench@(k-1), side) for k = 2…11: depth 10.
FIX=Tests/Fixtures/peft-golden/adapters
"$QUIVER" register "$FIX/a1" --name bench >/dev/null
"$QUIVER" register "$FIX/a2" --name side >/dev/null
for k in $(seq 2 11); do
    "$QUIVER" merge --method svd --svd-rank 8 --weights "0.$((50 + k)),0.5" --into bench "bench@$((k - 1))" side >/dev/null
done
DIGEST=$("$QUIVER" show bench@11 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"]["weightsDigest"]["hex"])')
TOKEN=$("$QUIVER" token create --name bench-reader --scope read)
PORT=$(free_port)
"$QUIVER" serve --port "$PORT" --log-level warning > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done

# wrk: requests/s and p99 of one URL, with an optional header.
run_wrk() { # label url [header]
    local label="$1" url="$2" header="${3:-}" result
    if [[ -n "$header" ]]; then
        result=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$header" "$url")
    else
        result=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$url")
    fi
    local rps p50 p99 non2xx
    rps=$(echo "$result" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$result" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$result" | awk '$1 == "99%" {print $2}')
    non2xx=$(echo "$result" | awk '/Non-2xx/ {print $5}')
    echo "| $label | $rps | $p50 | $p99 | ${non2xx:-0} |"
}
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/versions/bench@11/lineage" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("quiver lineage depth", max(n["depth"] for n in d["nodes"]))' >&2
QUIVER_ROWS=(
    "$(run_wrk "quiver: GET version bench@11" "http://127.0.0.1:$PORT/v1/versions/bench@11" "Authorization: Bearer $TOKEN")"
    "$(run_wrk "quiver: lineage, depth 10" "http://127.0.0.1:$PORT/v1/versions/bench@11/lineage" "Authorization: Bearer $TOKEN")"
    "$(run_wrk "quiver: audit from a sha256" "http://127.0.0.1:$PORT/v1/audit/$DIGEST" "Authorization: Bearer $TOKEN")"
)
SERVER_RSS=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

# MLflow on the same PostgreSQL.
MLFLOW_ROWS=()
if [[ "$MLFLOW" == 1 ]]; then
if [[ ! -x .venv-mlflow/bin/mlflow ]]; then
    python3 -m venv .venv-mlflow
    .venv-mlflow/bin/pip install -q mlflow psycopg2-binary
fi
MLPORT=$(free_port)
.venv-mlflow/bin/mlflow server --backend-store-uri "$(database mlflow_bench | sed "s#^postgresql://#postgresql+psycopg2://#")" --default-artifact-root "$WORK/mlruns" \
    --host 127.0.0.1 --port "$MLPORT" > "$WORK/mlflow.log" 2>&1 &
MLFLOW_PID=$!
# The first start creates MLflow's schema in PostgreSQL (dozens of Alembic migrations): minutes on 2 cores.
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$MLPORT/health" >/dev/null && break; sleep 1; done
curl -sf "http://127.0.0.1:$MLPORT/health" >/dev/null || { echo "MLflow did not start:" >&2; tail -20 "$WORK/mlflow.log" >&2; exit 1; }
ML="http://127.0.0.1:$MLPORT/api/2.0/mlflow"
curl -sf -X POST "$ML/registered-models/create" -H 'Content-Type: application/json' -d '{"name": "bench"}' >/dev/null
for k in $(seq 1 11); do
    curl -sf -X POST "$ML/model-versions/create" -H 'Content-Type: application/json' \
        -d "{\"name\": \"bench\", \"source\": \"s3://bench/v$k\"}" >/dev/null
    curl -sf -X POST "$ML/model-versions/set-tag" -H 'Content-Type: application/json' \
        -d "{\"name\": \"bench\", \"version\": \"$k\", \"key\": \"sha256\", \"value\": \"$(printf 'v%s' "$k" | sha256sum | cut -c1-64)\"}" >/dev/null
done
TAG=$(printf 'v11' | sha256sum | cut -c1-64)
MLFLOW_VERSION=$(.venv-mlflow/bin/python -c 'import mlflow; print(mlflow.__version__)')
MLFLOW_ROWS=(
    "$(run_wrk "MLflow $MLFLOW_VERSION: GET model version 11" "$ML/model-versions/get?name=bench&version=11")"
    "$(run_wrk "MLflow $MLFLOW_VERSION: search the model's versions" "$ML/model-versions/search?filter=name%3D%27bench%27")"
    "$(run_wrk "MLflow $MLFLOW_VERSION: version by sha256 tag" "$ML/model-versions/search?filter=tags.sha256%3D%27$TAG%27")"
)
fi

{
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg);"
    echo "wrk -t2 -c$CONNECTIONS -d$DURATION --latency on loopback; quiver serve with default settings, peak RSS $((SERVER_RSS / 1024)) MiB."
    echo
    echo "| lookup | requests/s | p50 | p99 | non-2xx |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${QUIVER_ROWS[@]}" ${MLFLOW_ROWS[@]+"${MLFLOW_ROWS[@]}"}
} | tee "$OUT"
