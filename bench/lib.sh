# Shared by the benchmark scripts (source it): measure COMMAND... runs the command under /usr/bin/time with its
# output in $MEASURE_DIR (a directory the caller owns) and prints "seconds peak_rss_mib"; on failure it prints the
# command's output to stderr and returns 1.
measure() {
    /usr/bin/time -f "%e %M" -o "$MEASURE_DIR/time" "$@" >"$MEASURE_DIR/stdout" 2>"$MEASURE_DIR/stderr" \
        || { cat "$MEASURE_DIR/stdout" "$MEASURE_DIR/stderr" >&2; return 1; }
    awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$MEASURE_DIR/time"
}
