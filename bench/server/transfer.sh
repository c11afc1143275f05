#!/usr/bin/env bash
# Blob upload and download through `quiver serve` against the same transfer straight to S3, in one run.
#
#   bench/server/transfer.sh [--size-mib 1024]
#
# Starts a throw-away PostgreSQL and SeaweedFS (scripts/services), writes a random file of the given size, and
# times: `quiver blob put` / `blob get` directly against the bucket (Quiver's own S3 client), then `PUT` and `GET
# /v1/blobs/{sha256}` with curl through `quiver serve` (streamed: the server holds neither the body nor a file),
# reporting MiB/s for each and the server's peak RSS (VmHWM) after both transfers.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=1024
[[ "${1:-}" == "--size-mib" ]] && SIZE_MIB="$2"
bash scripts/bootstrap.sh >/dev/null
mkdir -p bench-out
SERVER_PID=""
bench_cleanup() { [[ -z "$SERVER_PID" ]] || kill "$SERVER_PID" 2>/dev/null; }
# shellcheck source=../lib.sh
source bench/lib.sh   # start_throwaway_services
WORK=$(mktemp -d)
start_throwaway_services "$WORK"
swift build -c release --product quiver --static-swift-stdlib 2>&1 | tail -1
QUIVER="$PWD/.build/release/quiver"
export QUIVER_DATABASE_URL="$QUIVER_TEST_DATABASE_URL"

FILE="$WORK/blob.bin"
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$FILE"
DIGEST=$(sha256sum "$FILE" | cut -c1-64)
rate() { python3 -c "print(f'{$SIZE_MIB / $1:.1f}')"; }
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); python3 -c "print($end - $start)"; }

export QUIVER_BLOB_STORE="s3://$QUIVER_TEST_S3_BUCKET/direct"
DIRECT_PUT=$(seconds "$QUIVER" blob put "$FILE" --digest "$DIGEST")
DIRECT_GET=$(seconds "$QUIVER" blob get "$DIGEST" "$WORK/direct.out")
cmp -s "$FILE" "$WORK/direct.out"; rm -f "$WORK/direct.out"

export QUIVER_BLOB_STORE="s3://$QUIVER_TEST_S3_BUCKET/served"
TOKEN=$("$QUIVER" token create --name transfer --scope write)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$QUIVER" serve --port "$PORT" --log-level warning > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
RSS_IDLE=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
SERVED_PUT=$(seconds curl -sf -X PUT -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/octet-stream' \
    -H 'Expect:' -T "$FILE" "http://127.0.0.1:$PORT/v1/blobs/$DIGEST")
SERVED_GET=$(seconds curl -sf -H "Authorization: Bearer $TOKEN" -o "$WORK/served.out" "http://127.0.0.1:$PORT/v1/blobs/$DIGEST")
cmp -s "$FILE" "$WORK/served.out"
PEAK=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")

# The same download from a server that presigns: 307 to the store, followed by curl (which does not send the token
# on to another port), so the bytes do not pass through the server.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
"$QUIVER" serve --port "$PORT" --log-level warning --presign-downloads > "$WORK/serve-presign.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
PRESIGNED_GET=$(seconds curl -sfL -H "Authorization: Bearer $TOKEN" -o "$WORK/presigned.out" "http://127.0.0.1:$PORT/v1/blobs/$DIGEST?redirect=true")
cmp -s "$FILE" "$WORK/presigned.out"

{
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); a $SIZE_MIB MiB random blob."
    echo
    echo "| transfer | direct to S3 (MiB/s) | through quiver serve (MiB/s) | served / direct |"
    echo "| --- | ---: | ---: | ---: |"
    echo "| upload | $(rate "$DIRECT_PUT") | $(rate "$SERVED_PUT") | $(python3 -c "print(f'{$DIRECT_PUT / $SERVED_PUT:.0%}')") |"
    echo "| download | $(rate "$DIRECT_GET") | $(rate "$SERVED_GET") | $(python3 -c "print(f'{$DIRECT_GET / $SERVED_GET:.0%}')") |"
    echo "| download, \`--presign-downloads\` (307 to S3) | $(rate "$DIRECT_GET") | $(rate "$PRESIGNED_GET") | $(python3 -c "print(f'{$DIRECT_GET / $PRESIGNED_GET:.0%}')") |"
    echo
    echo "quiver serve RSS: $((RSS_IDLE / 1024)) MiB idle, peak $((PEAK / 1024)) MiB over both transfers."
} | tee bench-out/transfer.md
