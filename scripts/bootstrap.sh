#!/usr/bin/env bash
# Installs the system packages Quiver builds and runs against, on a fresh Debian machine.
# Idempotent and quiet when everything is already there. Needs root or sudo only when something is missing.
set -euo pipefail

missing=()
have_pc() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$1"; }
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
have_pc libpq || missing+=(libpq-dev)
have_pc libcurl || missing+=(libcurl4-openssl-dev)
have_pc openblas || missing+=(libopenblas-dev)
[ -e /usr/include/lapacke.h ] || missing+=(liblapacke-dev)
# Python runs the test scripts' helpers and installs SeaweedFS (pip, or a venv where pip may not install system-wide).
if ! command -v python3 >/dev/null 2>&1; then
    missing+=(python3 python3-pip python3-venv)
else
    python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
fi
# PostgreSQL server binaries: the embedded default and the test scripts run initdb/pg_ctl.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi

if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "bootstrap: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "bootstrap: no Swift toolchain on PATH; install Swift 6.3 from swift.org (this machine kind ships it at /opt/swift)" >&2
    exit 1
fi
