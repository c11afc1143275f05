#!/usr/bin/env bash
# The vLLM end-to-end test: quiver serve (real PostgreSQL and SeaweedFS) + vLLM with the Quiver resolver plugin
# + the webhook watcher. Needs .venv-vllm (integrations/vllm/install.sh). Takes about a minute and 3 GB of memory
# (vLLM's start-up is most of it), so it is a separate command, not part of scripts/test.sh.
#
#   bash integrations/vllm/e2e.sh [--report docs/vllm-e2e.md] [--keep]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${QUIVER_VLLM_VENV:-$repo/.venv-vllm}"
[[ -x "$venv/bin/python" ]] || { echo "e2e: no $venv; run integrations/vllm/install.sh first" >&2; exit 2; }

cd "$repo"
if [[ -z "${QUIVER_BIN:-}" ]]; then
  swift build --product quiver >/dev/null
  QUIVER_BIN="$(swift build --show-bin-path)/quiver"
fi
started_services=()
if [[ ! -f .services/postgres.env ]] || ! (source .services/postgres.env && psql "$QUIVER_TEST_DATABASE_URL" -qc 'select 1' >/dev/null 2>&1); then
  bash scripts/services/postgres.sh start >/dev/null; started_services+=(postgres)
fi
if [[ ! -f .services/s3.env ]] || ! (source .services/s3.env && curl -s -o /dev/null "$QUIVER_TEST_S3_ENDPOINT"); then
  bash scripts/services/seaweedfs.sh start >/dev/null; started_services+=(seaweedfs)
fi
cleanup() { for s in "${started_services[@]}"; do bash "scripts/services/$s.sh" stop >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
source .services/postgres.env
source .services/s3.env
export AWS_ACCESS_KEY_ID="$QUIVER_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$QUIVER_TEST_S3_SECRET_KEY" \
       AWS_REGION="$QUIVER_TEST_S3_REGION" AWS_ENDPOINT_URL_S3="$QUIVER_TEST_S3_ENDPOINT"
"$QUIVER_BIN" blob mb --store "s3://$QUIVER_TEST_S3_BUCKET/e2e" >/dev/null 2>&1 || true
"$venv/bin/python" "$here/e2e.py" --quiver "$QUIVER_BIN" --python "$venv/bin/python" \
  --database-admin-url "$QUIVER_TEST_DATABASE_URL" --bucket "$QUIVER_TEST_S3_BUCKET" "$@"
