#!/usr/bin/env bash
# moto, a second S3 implementation that also serves STS (the web identity credential tests start it themselves).
#
#   scripts/services/moto.sh install
#
# Installs moto's server into .venv-moto/ at the repository root (idempotent), pinned to the release the tests
# were written against.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MOTO_VERSION=5.2.1
VENV="$REPO_ROOT/.venv-moto"
case "${1:-}" in
    install)
        if [[ -x "$VENV/bin/moto_server" ]] && "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
            exit 0
        fi
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q "moto[server]==$MOTO_VERSION"
        echo "moto: $("$VENV/bin/moto_server" --version 2>/dev/null || echo "$MOTO_VERSION") in $VENV"
        ;;
    *) echo "usage: $0 install" >&2; exit 64 ;;
esac
