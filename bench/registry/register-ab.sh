#!/usr/bin/env bash
# Two `quiver` binaries' `register` side by side, alternating with a plain S3 PUT of the same file: for telling a
# change to the upload path from the run-to-run spread of a shared machine, where a single run of each cannot.
#
#   bench/registry/register-ab.sh BEFORE AFTER [--size 200] [--runs 10]
#
# BEFORE and AFTER are release `quiver` binaries (build one at each commit). Starts a throw-away PostgreSQL and
# SeaweedFS (scripts/services) and writes one PEFT adapter of --size MiB (scripts/make-big-adapter.py). Each run:
# the raw PUT (`curl --aws-sigv4`, UNSIGNED-PAYLOAD, one stream), then BEFORE's and AFTER's `register` of the
# adapter, each into an empty catalog and a fresh bucket prefix. Prints the median, minimum and maximum seconds of
# each, the machine line and the hypervisor's share of the machine during the runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $# -ge 2 ]] || { echo "usage: $0 BEFORE AFTER [--size MiB] [--runs N]" >&2; exit 64; }
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
shift 2
SIZE=200
RUNS=10
while [[ $# -gt 0 ]]; do
    case "$1" in
        --size) SIZE="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        *) echo "usage: $0 BEFORE AFTER [--size MiB] [--runs N]" >&2; exit 64 ;;
    esac
done
python3 -c 'import numpy' 2>/dev/null || { echo "needs numpy for scripts/make-big-adapter.py" >&2; exit 69; }
# shellcheck source=../lib.sh
source bench/lib.sh   # start_throwaway_services, measure, machine_line, cpu_ticks, cpu_share
WORK=$(mktemp -d)
start_throwaway_services "$WORK"
CURL_S3=(curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")

adapter="$WORK/adapter"
python3 scripts/make-big-adapter.py "$adapter" "$(python3 -c "print($SIZE / 1024)")" >/dev/null
MEASURE_DIR="$WORK"
seconds() { local s _; read -r s _ < <(measure "$@"); echo "$s"; }   # measure (bench/lib.sh) syncs first
RESULTS="$WORK/results"
: > "$RESULTS"
MACHINE=$(machine_line)
TICKS=$(cpu_ticks)
for run in $(seq 1 "$RUNS"); do
    echo "raw $(seconds "${CURL_S3[@]}" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$adapter/adapter_model.safetensors" \
        "$QUIVER_TEST_S3_ENDPOINT/$QUIVER_TEST_S3_BUCKET/raw/$run")" >> "$RESULTS"
    for side in before after; do
        binary=$BEFORE; [[ $side == after ]] && binary=$AFTER
        db="bench_ab_$side"
        psql "$QUIVER_TEST_DATABASE_URL" -XqAt -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
        export QUIVER_DATABASE_URL="${QUIVER_TEST_DATABASE_URL%/*}/$db" QUIVER_BLOB_STORE="s3://$QUIVER_TEST_S3_BUCKET/$side-$run"
        "$binary" db migrate >/dev/null
        echo "$side $(seconds "$binary" register "$adapter" --name ab)" >> "$RESULTS"
    done
done
echo "register of a $SIZE MiB adapter, $RUNS runs alternating, $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "machine: $MACHINE; during the runs $(cpu_share "$TICKS" "$(cpu_ticks)")"
echo
echo "| command | median s | min s | max s |"
echo "|---|---:|---:|---:|"
for what in raw before after; do
    awk -v w="$what" '$1 == w { print $2 }' "$RESULTS" | sort -g \
        | awk -v w="$what" '{ v[NR] = $1 } END { printf "| %s | %.3f | %.3f | %.3f |\n", w, v[int((NR + 1) / 2)], v[1], v[NR] }'
done
