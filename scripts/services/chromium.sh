#!/usr/bin/env bash
# Headless Chromium (Debian's `chromium` package), for the test that opens the lineage page as a person would
# (Tests/ServerTests/LineagePageTests.swift, driven by scripts/browser/page_check.py over the DevTools pipe).
#
#   scripts/services/chromium.sh install   # install chromium and a font when missing (apt-get; sudo unless root)
#   scripts/services/chromium.sh path      # print the browser's path, exit 3 when it is not installed
#
# The test finds the browser at QUIVER_TEST_CHROMIUM or on PATH (chromium, chromium-browser); it is skipped only
# when it is missing and CI is not set.
set -euo pipefail

find_browser() {
    if [[ -n "${QUIVER_TEST_CHROMIUM:-}" && -x "${QUIVER_TEST_CHROMIUM}" ]]; then echo "$QUIVER_TEST_CHROMIUM"; return 0; fi
    for name in chromium chromium-browser; do
        if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    done
    return 1
}

case "${1:-}" in
    install)
        if find_browser >/dev/null && fc-list 2>/dev/null | grep -qi "DejaVu Sans"; then exit 0; fi
        SUDO=""
        [[ "$(id -u)" == 0 ]] || SUDO="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
        echo "chromium: $(find_browser) ($("$(find_browser)" --version 2>/dev/null || echo unknown))"
        ;;
    path)
        find_browser || exit 3
        ;;
    *) echo "usage: $0 install|path" >&2; exit 64 ;;
esac
