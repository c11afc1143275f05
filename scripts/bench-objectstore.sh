#!/usr/bin/env bash
# Throughput and peak RSS of Quiver's S3 blob store vs `aws s3 cp` on the local SeaweedFS (loopback).
#   bash scripts/services/seaweedfs.sh start && source .services/s3.env
#   swift build -c release --product quiver --static-swift-stdlib
#   bash scripts/bench-objectstore.sh FILE...
# Prints one markdown table row per transfer. MB/s uses MB = 10^6 bytes; RSS is /usr/bin/time's maximum RSS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUIVER="${QUIVER:-$ROOT/.build/release/quiver}"
: "${QUIVER_TEST_S3_ENDPOINT:?source .services/s3.env first}"
export AWS_ACCESS_KEY_ID="$QUIVER_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$QUIVER_TEST_S3_SECRET_KEY"
export AWS_REGION="$QUIVER_TEST_S3_REGION" AWS_DEFAULT_REGION="$QUIVER_TEST_S3_REGION"
export AWS_ENDPOINT_URL_S3="$QUIVER_TEST_S3_ENDPOINT"
STORE="s3://$QUIVER_TEST_S3_BUCKET/bench"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

# shellcheck source=../bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"
MEASURE_DIR="$OUT"

row() {  # tool, operation, file, bytes, "seconds rss"
    local seconds rss; read -r seconds rss <<<"$5"
    awk -v t="$1" -v op="$2" -v f="$3" -v b="$4" -v s="$seconds" -v r="$rss" \
        'BEGIN { printf "| %s | %s | %s | %.2f | %.1f | %d |\n", t, op, f, s, b/1e6/s, r }'
}

echo "| tool | operation | file | seconds | MB/s | peak RSS MiB |"
echo "|---|---|---|---|---|---|"
for file in "$@"; do
    name="$(basename "$file")"; bytes="$(stat -c %s "$file")"
    digest="$(sha256sum "$file" | cut -d' ' -f1)"
    "$QUIVER" blob rm --store "$STORE" "$digest" >/dev/null
    row quiver "put (hash + upload)" "$name" "$bytes" "$(measure "$QUIVER" blob put --store "$STORE" "$file")"
    "$QUIVER" blob rm --store "$STORE" "$digest" >/dev/null
    row quiver "put (digest known)" "$name" "$bytes" "$(measure "$QUIVER" blob put --store "$STORE" --digest "$digest" "$file")"
    rm -f "$OUT/q.bin"
    row quiver "get (verified)" "$name" "$bytes" "$(measure "$QUIVER" blob get --store "$STORE" "$digest" "$OUT/q.bin")"
    [ "$(sha256sum "$OUT/q.bin" | cut -d' ' -f1)" = "$digest" ] || { echo "quiver get: digest mismatch" >&2; exit 1; }
    rm -f "$OUT/q.bin"
    row "aws s3 cp" "put" "$name" "$bytes" "$(measure aws s3 cp --only-show-errors --endpoint-url "$QUIVER_TEST_S3_ENDPOINT" "$file" "s3://$QUIVER_TEST_S3_BUCKET/bench-aws/$name")"
    row "aws s3 cp" "get" "$name" "$bytes" "$(measure aws s3 cp --only-show-errors --endpoint-url "$QUIVER_TEST_S3_ENDPOINT" "s3://$QUIVER_TEST_S3_BUCKET/bench-aws/$name" "$OUT/a.bin")"
    [ "$(sha256sum "$OUT/a.bin" | cut -d' ' -f1)" = "$digest" ] || { echo "aws get: digest mismatch" >&2; exit 1; }
    rm -f "$OUT/a.bin"
    aws s3 rm --only-show-errors --endpoint-url "$QUIVER_TEST_S3_ENDPOINT" "s3://$QUIVER_TEST_S3_BUCKET/bench-aws/$name"
    "$QUIVER" blob rm --store "$STORE" "$digest" >/dev/null
done
