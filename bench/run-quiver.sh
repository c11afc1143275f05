#!/usr/bin/env bash
# Times every Quiver merge method on 7B-shaped adapters, one process per method (so peak RSS is per method).
# Usage: bench/run-quiver.sh [DATA_DIR]   (generates the adapters on first use; release build)
#        bench/run-quiver.sh bench-out/peft-inputs   # PEFT's own inputs (adapter_0..2), as bench/peft times them
# Knobs: METHODS (subset), WEIGHT (every input's weight; default 1/n, bench/peft uses 1), SVD_RANK (svd family;
# default: the largest input rank, 16 here, as bench/peft passes)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-/tmp/quiver-bench-data}
swift build -c release --product QuiverBench --static-swift-stdlib >/dev/null
BIN=.build/release/QuiverBench
if [ -d "$DATA/adapter_2" ]; then
    INPUTS=("$DATA/adapter_0" "$DATA/adapter_1" "$DATA/adapter_2")   # written by bench/peft/generate.py
else
    if [ ! -d "$DATA/adapter-2" ]; then "$BIN" generate --out "$DATA"; fi
    INPUTS=("$DATA/adapter-0" "$DATA/adapter-1" "$DATA/adapter-2")
fi
EXTRA=()
[ -n "${WEIGHT:-}" ] && EXTRA+=(--weight "$WEIGHT")
du -smL "$DATA" | awk '{print "{\"inputs_mb\": " $1 "}"}'
# Each line is followed by the 1/5/15-minute load average, since the machine may be shared.
load() { awk '{print "{\"load_average\": \"" $1 " " $2 " " $3 "\"}"}' /proc/loadavg; }
"$BIN" io --inputs "${INPUTS[@]}"; load
for method in ${METHODS:-linear cat svd ties magnitude_prune dare_linear dare_ties ties_svd magnitude_prune_svd dare_linear_svd dare_ties_svd}; do
    RANK=()
    # svd_rank caps the svd family only (a capped cat would be an exact svd, which PEFT's cat never does).
    case $method in *svd) [ -n "${SVD_RANK:-}" ] && RANK=(--svd-rank "$SVD_RANK") ;; esac
    "$BIN" run --inputs "${INPUTS[@]}" --method "$method" --density 0.5 "${EXTRA[@]}" "${RANK[@]}"; load
done
