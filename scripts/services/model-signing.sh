#!/usr/bin/env bash
# OpenSSF model signing (`model_signing`), the tool the interop tests verify published directories with.
#
#   scripts/services/model-signing.sh install
#
# Installs model-signing (and pyopenssl, which its key verification imports) into .venv-signing/ at the repository
# root (idempotent), pinned to the release the tests were written against.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODEL_SIGNING_VERSION=1.1.1
VENV="$REPO_ROOT/.venv-signing"
case "${1:-}" in
    install)
        if [[ -x "$VENV/bin/model_signing" ]] && "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('model-signing') != '$MODEL_SIGNING_VERSION')" 2>/dev/null; then
            exit 0
        fi
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q "model-signing==$MODEL_SIGNING_VERSION" pyopenssl
        echo "model_signing $MODEL_SIGNING_VERSION in $VENV"
        ;;
    *) echo "usage: $0 install" >&2; exit 64 ;;
esac
