#!/usr/bin/env bash
# Quiver's main job on its embedded default: no database or bucket to configure. The CLI starts a private
# PostgreSQL under ~/.quiver (or $QUIVER_HOME) and keeps blobs in a local directory, then tells the whole story.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
swift build -c release --product quiver --static-swift-stdlib
exec .build/release/quiver demo "$@"
