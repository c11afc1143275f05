#!/usr/bin/env bash
# What publishing and verifying cost on a large adapter: pull vs publish (publish = pull + config rewrite check +
# signing + quiver.json + model.sig), and `quiver attest --verify --dir` vs OpenSSF `model_signing verify key` on the
# published directory, with `sha256sum` of the weights as the floor.
# Usage: bench/provenance/publish.sh [SIZE_GIB]   (default 0.5; needs `source .services/postgres.env` and
#        scripts/services/model-signing.sh install; uses the build in .build/${CONFIG:-release})
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CONFIG=${CONFIG:-release}
swift build -c "$CONFIG" --product quiver >/dev/null
Q=$ROOT/.build/$CONFIG/quiver
: "${QUIVER_TEST_DATABASE_URL:?source .services/postgres.env first}"
WORK=$(mktemp -d /tmp/quiver-publish-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export QUIVER_HOME=$WORK/home QUIVER_SERVER=
python3 scripts/make-big-adapter.py "$WORK/big" "${1:-0.5}" >/dev/null
DB=quiver_test_$(python3 -c "import uuid; print(uuid.uuid4().hex[:16])")
psql "$QUIVER_TEST_DATABASE_URL" -qc "CREATE DATABASE $DB"
trap 'psql "$QUIVER_TEST_DATABASE_URL" -qc "DROP DATABASE $DB"; rm -rf "$WORK"' EXIT
C=(--database-url "${QUIVER_TEST_DATABASE_URL%/*}/$DB" --blob-store "$WORK/blobs" --actor bench)
"$Q" register "$WORK/big" --name big "${C[@]}" >/dev/null
seconds() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
echo "weights: $(stat -c %s "$WORK/big/adapter_model.safetensors") bytes; build: $CONFIG; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pull                    $(seconds "$Q" pull big --output "$WORK/pulled" "${C[@]}") s"
echo "publish                 $(seconds "$Q" publish big --to "$WORK/out" --max-lora-rank 64 "${C[@]}") s"
D=$(ls -d "$WORK"/out/big-*)
"$Q" key public > "$WORK/pub.pem"
echo "sha256sum weights       $(seconds sha256sum "$D/adapter_model.safetensors") s"
echo "attest --verify --dir   $(seconds "$Q" attest --verify "$D/provenance.intoto.jsonl" --dir "$D" --public-key "$WORK/pub.pem") s"
echo "model_signing verify    $(seconds .venv-signing/bin/model_signing verify key "$D" --signature "$D/model.sig" --public_key "$WORK/pub.pem") s"
