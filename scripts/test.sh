#!/usr/bin/env bash
# Runs Quiver's whole test suite: unit tests, and integration tests against a real PostgreSQL and a real
# SeaweedFS S3 server that this script starts on loopback (free ports) and stops again, also when tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh

stop_services() {
    bash scripts/services/seaweedfs.sh stop || true
    bash scripts/services/postgres.sh stop || true
}
trap stop_services EXIT

bash scripts/services/postgres.sh start
bash scripts/services/seaweedfs.sh start
bash scripts/services/moto.sh install
bash scripts/services/chromium.sh install
bash scripts/services/model-signing.sh install
# shellcheck disable=SC1091
source .services/postgres.env
# shellcheck disable=SC1091
source .services/s3.env

swift build --build-tests

# The vLLM integration's tests without vLLM (standard library only; one module against a real quiver serve on the
# services above), with pytest from a venv of their own.
if [[ ! -x .venv-pytest/bin/pytest ]]; then
    python3 -m venv .venv-pytest
    .venv-pytest/bin/pip install -q --disable-pip-version-check "pytest==8.3.4"
fi
QUIVER_BIN="$(swift build --show-bin-path)/quiver" PYTHONPATH=integrations/vllm \
    .venv-pytest/bin/python -m pytest -q -p no:cacheprovider integrations/vllm/tests

swift test "$@"

# The quick reliability trials (docs/reliability.md) on the debug binary just built (a release build would add
# minutes to CI); only for the whole suite, not a filtered run. QUIVER_SKIP_TRIALS=1 skips them.
if [ $# -eq 0 ] && [ "${QUIVER_SKIP_TRIALS:-0}" != 1 ]; then
    QUIVER_TRIALS_BIN="$(swift build --show-bin-path)/quiver" bash scripts/trials.sh --quick
fi
