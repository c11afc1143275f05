#!/usr/bin/env bash
# Times every Quiver merge method on 7B-shaped adapters, one process per method (so peak RSS is per method).
# Usage: bench/run-quiver.sh [DATA_DIR]   (generates the adapters on first use; release build)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-/tmp/quiver-bench-data}
swift build -c release --product QuiverBench >/dev/null
BIN=.build/release/QuiverBench
if [ ! -d "$DATA/adapter-2" ]; then "$BIN" generate --out "$DATA"; fi
INPUTS=("$DATA/adapter-0" "$DATA/adapter-1" "$DATA/adapter-2")
du -sm "$DATA" | awk '{print "{\"inputs_mb\": " $1 "}"}'
# Each line is followed by the 1/5/15-minute load average, since the machine may be shared.
load() { awk '{print "{\"load_average\": \"" $1 " " $2 " " $3 "\"}"}' /proc/loadavg; }
"$BIN" io --inputs "${INPUTS[@]}"; load
for method in ${METHODS:-linear cat svd ties magnitude_prune dare_linear dare_ties ties_svd magnitude_prune_svd dare_linear_svd dare_ties_svd}; do
    "$BIN" run --inputs "${INPUTS[@]}" --method "$method" --density 0.5; load
done
