#!/usr/bin/env bash
# Throw-away PostgreSQL for the integration tests.
#
#   scripts/services/postgres.sh start|stop|status|restart
#
# start: initdb a fresh cluster in a temp dir, run it on 127.0.0.1 and a free port, wait until it answers,
#        and write $STATE_DIR/postgres.env (QUIVER_TEST_DATABASE_URL, QUIVER_TEST_PGDATA, QUIVER_TEST_PGPORT).
# stop:  stop it and delete its data (idempotent).
# STATE_DIR is .services/ at the repository root, or $QUIVER_PG_SERVICE_DIR (tests use that to run a second,
# private instance they may restart without disturbing the shared one).
# initdb refuses to run as root: as root the server runs as `postgres` (or a created `quiver-pg` system user).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="${QUIVER_PG_SERVICE_DIR:-$REPO_ROOT/.services}"
ENV_FILE="$STATE_DIR/postgres.env"

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bin() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return
    fi
    local candidate
    candidate="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    [[ -n "$candidate" && -x "$candidate/pg_ctl" ]] || die "initdb/pg_ctl not found on PATH nor in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
    echo "$candidate"
}

# Runs a command as the unprivileged server user when we are root, else as ourselves.
as_server_user() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u "$SERVER_USER" -- "$@"
    else
        "$@"
    fi
}

pick_server_user() {
    SERVER_USER="$(id -un)"
    if [[ "$(id -u)" == 0 ]]; then
        if id postgres >/dev/null 2>&1; then
            SERVER_USER=postgres
        else
            id quiver-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin quiver-pg
            SERVER_USER=quiver-pg
        fi
    fi
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port
    for port in $(seq 54320 54420); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
    done
    die "no free port found"
}

load_env() {
    [[ -f "$ENV_FILE" ]] || return 1
    # shellcheck disable=SC1090
    source "$ENV_FILE"
    [[ -n "${QUIVER_TEST_PGDATA:-}" ]]
}

is_running() {
    load_env || return 1
    local bin
    bin="$(find_bin)"
    "$bin/pg_isready" -q -U quiver -d postgres -h 127.0.0.1 -p "$QUIVER_TEST_PGPORT" -t 2 2>/dev/null || pg_isready -q -U quiver -d postgres -h 127.0.0.1 -p "$QUIVER_TEST_PGPORT" -t 2
}

cmd_start() {
    if is_running; then
        echo "postgres already running: $QUIVER_TEST_DATABASE_URL"
        return
    fi
    [[ -f "$ENV_FILE" ]] && cmd_stop >/dev/null 2>&1 || true
    local bin port data
    bin="$(find_bin)"
    pick_server_user
    mkdir -p "$STATE_DIR"
    # /tmp (not the repo) so the unprivileged server user can always reach it.
    data="$(mktemp -d /tmp/quiver-pg.XXXXXX)"
    chmod 0700 "$data"
    [[ "$(id -u)" == 0 ]] && chown "$SERVER_USER" "$data"
    as_server_user "$bin/initdb" -D "$data" -U quiver --auth=trust -E UTF8 --no-locale >"$STATE_DIR/postgres-initdb.log" 2>&1 \
        || { cat "$STATE_DIR/postgres-initdb.log" >&2; die "initdb failed"; }
    local attempt
    for attempt in 1 2 3; do
        port="$(free_port)"
        if as_server_user "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
            -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$data -c fsync=off -c max_connections=200" \
            start >/dev/null; then
            break
        fi
        [[ "$attempt" == 3 ]] && { cat "$data/server.log" >&2; die "pg_ctl start failed"; }
    done
    local i
    for i in $(seq 1 60); do
        pg_isready -q -U quiver -d postgres -h 127.0.0.1 -p "$port" -t 1 && break
        sleep 0.5
    done
    pg_isready -q -U quiver -d postgres -h 127.0.0.1 -p "$port" -t 1 || die "server on port $port does not answer; log: $data/server.log"
    cat >"$ENV_FILE" <<ENV
export QUIVER_TEST_DATABASE_URL=postgresql://quiver@127.0.0.1:$port/postgres
export QUIVER_TEST_PGDATA=$data
export QUIVER_TEST_PGPORT=$port
export QUIVER_TEST_PGBIN=$bin
ENV
    echo "postgres started: postgresql://quiver@127.0.0.1:$port/postgres (data $data, env $ENV_FILE)"
}

cmd_stop() {
    if ! load_env; then
        echo "postgres not running (no $ENV_FILE)"
        return
    fi
    local bin
    bin="$(find_bin)"
    pick_server_user
    if [[ -d "$QUIVER_TEST_PGDATA" ]]; then
        as_server_user "$bin/pg_ctl" -D "$QUIVER_TEST_PGDATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
        rm -rf "$QUIVER_TEST_PGDATA"
    fi
    rm -f "$ENV_FILE"
    echo "postgres stopped"
}

cmd_restart() {
    load_env || die "not started (no $ENV_FILE)"
    local bin
    bin="$(find_bin)"
    pick_server_user
    # pg_ctl restart reuses the options of the previous start (postmaster.opts), so the port stays the same.
    as_server_user "$bin/pg_ctl" -D "$QUIVER_TEST_PGDATA" -l "$QUIVER_TEST_PGDATA/server.log" -m fast -w -t 60 restart >/dev/null
    echo "postgres restarted on port $QUIVER_TEST_PGPORT"
}

cmd_status() {
    if is_running; then
        echo "running: $QUIVER_TEST_DATABASE_URL"
    else
        echo "not running"
        return 1
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_restart ;;
    status) cmd_status ;;
    *) die "usage: $0 start|stop|status|restart" ;;
esac
