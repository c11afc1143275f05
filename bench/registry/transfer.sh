#!/usr/bin/env bash
# `quiver register` and `quiver pull` against the raw S3 rate of the same bytes, in one run.
#
#   bench/registry/transfer.sh [--sizes "32 200 1024"] [--rounds 5]      (QUIVER=BINARY to skip the build)
#
# Starts a throw-away PostgreSQL and SeaweedFS (scripts/services) and writes one PEFT adapter per size (MiB, F32,
# scripts/make-big-adapter.py). Each round, for each size, alternating:
#   raw put/get   `curl --aws-sigv4` (one stream, libcurl) and `aws s3 cp` (multipart, 10 threads) of the weights
#                 file; the faster of the two is the raw rate
#   register      a fresh catalog and bucket prefix: validate, hash, upload, record (`quiver register`)
#   re-register   the same directory again: must upload nothing (checked: no new object in the prefix)
#   pull          download, verify every byte, write the directory (`quiver pull`)
# Rates are MiB/s of the whole adapter directory; peak RSS is /usr/bin/time's maximum resident set. The median
# round is reported. Output: bench-out/registry-transfer.md (and the table on stdout).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES="32 200 1024"
ROUNDS=5
while [[ $# -gt 0 ]]; do
    case "$1" in
        --sizes) SIZES="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        *) echo "usage: $0 [--sizes \"32 200 1024\"] [--rounds 5]" >&2; exit 64 ;;
    esac
done
bash scripts/bootstrap.sh >/dev/null
command -v aws >/dev/null || { echo "needs the aws CLI (pip install awscli)" >&2; exit 69; }
python3 -c 'import numpy' 2>/dev/null || { echo "needs numpy for scripts/make-big-adapter.py" >&2; exit 69; }
mkdir -p bench-out
# shellcheck source=../lib.sh
source bench/lib.sh   # start_throwaway_services; measure: "seconds peak_rss_mib" of a command
WORK=$(mktemp -d)
# Every round stores gigabytes: a SeaweedFS of its own, started empty and removed at the end.
start_throwaway_services "$WORK"
if [[ -z "${QUIVER:-}" ]]; then  # QUIVER=/path/to/quiver uses that binary instead of building this tree's
    swift build -c release --product quiver --static-swift-stdlib 2>&1 | tail -1
    QUIVER="$PWD/.build/release/quiver"
fi
BUCKET="$QUIVER_TEST_S3_BUCKET"
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

MEASURE_DIR="$WORK"
# A plain libcurl PUT or GET, signed by curl itself (7.88 needs x-amz-content-sha256 given; SWIFT-NOTES §3.2).
CURL_S3=(curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")
objects() { aws s3 ls --recursive "s3://$BUCKET/$1/" 2>/dev/null | wc -l; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

RESULTS="$WORK/results"
: > "$RESULTS"
MACHINE=$(machine_line)
TICKS=$(cpu_ticks)
DISK=$(disk_ticks "$WORK")
RUN_START=$(date +%s%N)
for size in $SIZES; do
    dir="$WORK/adapter-$size"
    python3 scripts/make-big-adapter.py "$dir" "$(python3 -c "print($size / 1024)")" >/dev/null
    bytes=$(du -cb "$dir"/* | tail -1 | cut -f1)
    weights="$dir/adapter_model.safetensors"
    for round in $(seq 1 "$ROUNDS"); do
        key="raw/$size-$round"
        read -r s r < <(measure "${CURL_S3[@]}" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$weights" "$QUIVER_TEST_S3_ENDPOINT/$BUCKET/$key")
        echo "$size $round curl-put $s $r" >> "$RESULTS"
        read -r s r < <(measure aws s3 cp --only-show-errors "$weights" "s3://$BUCKET/$key-aws")
        echo "$size $round aws-put $s $r" >> "$RESULTS"

        db="bench_transfer_${size}_$round"
        psql "$QUIVER_TEST_DATABASE_URL" -XqAt -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
        export QUIVER_DATABASE_URL="${QUIVER_TEST_DATABASE_URL%/*}/$db"
        export QUIVER_BLOB_STORE="s3://$BUCKET/q-$size-$round"
        "$QUIVER" db migrate >/dev/null
        read -r s r < <(measure "$QUIVER" register "$dir" --name "bench-$size")
        echo "$size $round register $s $r" >> "$RESULTS"
        before=$(objects "q-$size-$round")
        read -r s r < <(measure "$QUIVER" register "$dir" --name "bench-$size")
        after=$(objects "q-$size-$round")
        [[ "$before" == "$after" ]] || { echo "re-register uploaded: $before -> $after objects" >&2; exit 1; }
        echo "$size $round re-register $s $r" >> "$RESULTS"
        # The raw GETs run here, beside pull, and after one untimed GET: on these VMs the first large write after a
        # register is slow for any writer (a 1 GiB `curl -o` took 2.9-4.7 s there, with 2.1 s of system time,
        # against 1.6-1.9 s after it), and whichever command came first paid for it (pull when the raw GETs ran
        # after the raw PUT, curl when they ran first after register). Raw and Quiver now meet the same conditions.
        "${CURL_S3[@]}" -H "x-amz-content-sha256: $EMPTY_SHA" -o "$WORK/raw.out" "$QUIVER_TEST_S3_ENDPOINT/$BUCKET/$key"
        rm -f "$WORK/raw.out"
        read -r s r < <(measure "${CURL_S3[@]}" -H "x-amz-content-sha256: $EMPTY_SHA" -o "$WORK/raw.out" "$QUIVER_TEST_S3_ENDPOINT/$BUCKET/$key")
        echo "$size $round curl-get $s $r" >> "$RESULTS"
        cmp -s "$weights" "$WORK/raw.out"; rm -f "$WORK/raw.out"
        read -r s r < <(measure aws s3 cp --only-show-errors "s3://$BUCKET/$key-aws" "$WORK/raw.out")
        echo "$size $round aws-get $s $r" >> "$RESULTS"
        cmp -s "$weights" "$WORK/raw.out"; rm -f "$WORK/raw.out"
        read -r s r < <(measure "$QUIVER" pull "bench-$size@1" --output "$WORK/pulled")
        echo "$size $round pull $s $r" >> "$RESULTS"
        cmp -s "$weights" "$WORK/pulled/adapter_model.safetensors"; rm -rf "$WORK/pulled"
        psql "$QUIVER_TEST_DATABASE_URL" -XqAt -c "DROP DATABASE $db WITH (FORCE)"
    done
    rm -rf "$dir"
    echo "$size $bytes" >> "$WORK/bytes"
done

{
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end;"
    echo "machine: $MACHINE; during the run $(cpu_share "$TICKS" "$(cpu_ticks)"), the disk busy $(awk -v a="$DISK" -v b="$(disk_ticks "$WORK")" -v ns=$(( $(date +%s%N) - RUN_START )) 'BEGIN { printf "%.0f %%", 100 * (b - a) / (ns / 1e6) }') of the time;"
    echo "SeaweedFS and PostgreSQL on loopback; median of $ROUNDS rounds; MiB/s of the adapter's bytes; peak RSS in MiB."
    echo
    echo "| size | raw put: curl / aws (MiB/s) | register (MiB/s) | register ÷ raw | re-register (s) | raw get: curl / aws (MiB/s) | pull (MiB/s) | pull ÷ raw | peak RSS register / pull |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    while read -r size bytes; do
        pick() { awk -v z="$size" -v op="$1" -v c="$2" '$1 == z && $3 == op { print $c }' "$RESULTS" | median; }
        rate() { python3 -c "print(f'{$bytes / 1048576 / $1:.0f}')"; }
        cp_=$(pick curl-put 4); ap=$(pick aws-put 4); cg=$(pick curl-get 4); ag=$(pick aws-get 4)
        reg=$(pick register 4); rereg=$(pick re-register 4); pull=$(pick pull 4)
        rawput=$(python3 -c "print(min($cp_, $ap))"); rawget=$(python3 -c "print(min($cg, $ag))")
        echo "| $size MiB | $(rate "$cp_") / $(rate "$ap") | $(rate "$reg") | $(python3 -c "print(f'{$rawput / $reg:.0%}')") | $rereg | $(rate "$cg") / $(rate "$ag") | $(rate "$pull") | $(python3 -c "print(f'{$rawget / $pull:.0%}')") | $(pick register 5) / $(pick pull 5) |"
    done < "$WORK/bytes"
} | tee bench-out/registry-transfer.md
cp "$RESULTS" bench-out/registry-transfer-rounds.txt  # every round: size round operation seconds peak-RSS-MiB
