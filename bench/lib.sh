# Shared by the benchmark scripts (source it): measure COMMAND... runs the command under /usr/bin/time with its
# output in $MEASURE_DIR (a directory the caller owns) and prints "seconds peak_rss_mib"; on failure it prints the
# command's output to stderr and returns 1. The seconds are wall-clock, to the millisecond (the clock is read
# around /usr/bin/time, whose own %e has 10 ms steps: 4 % of a 0.25 s transfer); the RSS is /usr/bin/time's %M.
# Each command starts after a `sync`, outside the timed span: what earlier commands left to write back (a store's
# hundreds of megabytes of uploads, a merge's output) is written then, not during whichever command the kernel's
# flusher happens to meet 30 s later.
measure() {
    local start end
    sync
    start=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$MEASURE_DIR/time" "$@" >"$MEASURE_DIR/stdout" 2>"$MEASURE_DIR/stderr" \
        || { cat "$MEASURE_DIR/stdout" "$MEASURE_DIR/stderr" >&2; return 1; }
    end=$(date +%s%N)
    awk -v ns=$((end - start)) '{ printf "%.3f %.0f\n", ns / 1e9, $1 / 1024 }' "$MEASURE_DIR/time"
}

# Which machine: runs on different hosts of one kind differ by their CPU more than by anything measured here, so
# the model and one pure-CPU rate (SHA-256 on one stream, what register's and the merges' digests run at) go with
# the figures. Prints one line.
machine_line() {
    local rate
    rate=$(openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null | awk '/^sha256/ { printf "%.2f", $2 / 1e6 }' || true)
    echo "$(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); SHA-256 on one stream ${rate:-?} GB/s (\`openssl speed -evp sha256 -bytes 16384\`)"
}

# The machine's time since boot from /proc/stat, all cores: "busy idle stolen" in clock ticks. Two readings give
# the share the hypervisor took from this machine between them (other tenants on the same cores).
cpu_ticks() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6, $9 }' /proc/stat
}

# "busy X %, idle Y %, stolen Z %" between two cpu_ticks readings.
cpu_share() {
    awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2]; st = y[3] - x[3]
        total = busy + idle + st; if (total <= 0) total = 1
        printf "busy %.1f %%, idle %.1f %%, stolen by the hypervisor %.1f %%", 100 * busy / total, 100 * idle / total, 100 * st / total }'
}

# Milliseconds the disk under directory $1 has been busy since boot (/proc/diskstats, io_ticks of its device; a
# partition counts as its own device there). Two readings give the share of a run the disk was busy: writes queued
# by other tenants of a virtual disk, or by an earlier stage's checkpoints, slow every command that writes.
disk_ticks() {
    local device
    device=$(df --output=source "$1" 2>/dev/null | tail -1)
    awk -v d="${device##*/}" '$3 == d { print $13; found = 1 } END { if (!found) print 0 }' /proc/diskstats
}

# Starts a throw-away PostgreSQL and a SeaweedFS of its own under WORK (started empty: a store that grew over
# earlier runs, its volumes and the disk's writeback, made rates wander from run to run), loads their settings
# (.services/postgres.env, WORK/s3/s3.env) and exports what quiver and the aws CLI read: the S3 keys, region and
# endpoint, and QUIVER_ACTOR. On exit, `bench_cleanup` runs first when the caller defined one (a server to stop),
# then both services stop and WORK is removed.
start_throwaway_services() {
    BENCH_WORK=$1
    export QUIVER_S3_SERVICE_DIR="$BENCH_WORK/s3"
    mkdir -p "$QUIVER_S3_SERVICE_DIR"
    trap stop_throwaway_services EXIT
    bash scripts/services/postgres.sh start >/dev/null
    # SeaweedFS's own volume size (30 GB, not preallocated), as a deployment runs it: the test suite's 64 MiB
    # volumes would have a 200 MiB upload cross three volume ends and the master grow new volumes mid-round.
    QUIVER_SEAWEEDFS_VOLUME_MB="${QUIVER_SEAWEEDFS_VOLUME_MB:-30000}" bash scripts/services/seaweedfs.sh start >/dev/null
    # shellcheck disable=SC1091
    source .services/postgres.env
    # shellcheck disable=SC1091
    source "$QUIVER_S3_SERVICE_DIR/s3.env"
    export AWS_ACCESS_KEY_ID="$QUIVER_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$QUIVER_TEST_S3_SECRET_KEY"
    export AWS_REGION="$QUIVER_TEST_S3_REGION" AWS_DEFAULT_REGION="$QUIVER_TEST_S3_REGION" AWS_ENDPOINT_URL_S3="$QUIVER_TEST_S3_ENDPOINT"
    export QUIVER_ACTOR=bench
}

stop_throwaway_services() {
    if declare -F bench_cleanup >/dev/null; then bench_cleanup || true; fi
    bash scripts/services/seaweedfs.sh stop >/dev/null 2>&1 || true
    bash scripts/services/postgres.sh stop >/dev/null 2>&1 || true
    rm -rf "$BENCH_WORK"
}
