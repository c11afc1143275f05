#!/usr/bin/env bash
# Coverage-guided fuzzing of the safetensors and adapter-config parsers with libFuzzer.
# Usage: scripts/fuzz.sh [safetensors|config] [runs]   (default: safetensors 1000000)
# Seeds: every fixture file of that kind plus the malformed corpus; new crashes land in .fuzz/<target>/crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-safetensors}"
runs="${2:-1000000}"
QUIVER_FUZZ=1 swift build -c release --build-path .build-fuzz --product QuiverFuzz \
    -Xswiftc -sanitize=fuzzer -Xswiftc -sanitize=address \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp >&2
work=".fuzz/$target"
mkdir -p "$work/corpus" "$work/crashes"
if [ "$target" = config ]; then
    find Tests/Fixtures -name adapter_config.json | while read -r f; do cp "$f" "$work/corpus/$(echo "$f" | tr / _)"; done
else
    find Tests/Fixtures -name '*.safetensors' -size -64k | while read -r f; do cp "$f" "$work/corpus/$(echo "$f" | tr / _)"; done
fi
QUIVER_FUZZ_TARGET="$target" .build-fuzz/release/QuiverFuzz "$work/corpus" \
    -runs="$runs" -max_len=4096 -artifact_prefix="$work/crashes/" -print_final_stats=1
