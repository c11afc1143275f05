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
