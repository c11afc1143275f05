#!/usr/bin/env bash
# Coverage-guided fuzzing of the safetensors and adapter-config parsers with libFuzzer.
# Usage: scripts/fuzz.sh [safetensors|config] [runs] [extra libFuzzer flags...]   (default: safetensors 1000000)
# Seeds: every fixture file of that kind (including Tests/Fixtures/malformed). The growing corpus is kept in
# .fuzz/<target>/corpus, crashes land in .fuzz/<target>/crashes, the log in .fuzz/<target>/log.
#
# Build notes (see docs/benchmarks-formats.md, "Fuzzing"):
# - The sanitizers go in ONE flag: swift-driver keeps only the last `-sanitize=` for compile jobs, so
#   `-sanitize=fuzzer -sanitize=address` compiles with ASan alone and no coverage instrumentation (the link job
#   merges them, so the binary still links and runs, mutation-only).
# - Debug (-Onone, one object per file): every SafeTensors/LoRA function keeps its own counters. The script
#   refuses to fuzz if SafeTensors' and LoRA's objects carry no `__sancov_cntrs` section.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-safetensors}"
runs="${2:-1000000}"
shift $(( $# > 2 ? 2 : $# ))
case "$target" in safetensors|config) ;; *) echo "unknown target '$target' (safetensors|config)" >&2; exit 2;; esac

QUIVER_FUZZ=1 swift build -c debug --build-path .build-fuzz --product QuiverFuzz \
    -Xswiftc -sanitize=fuzzer,address >&2
bin="$(QUIVER_FUZZ=1 swift build -c debug --build-path .build-fuzz --show-bin-path)"

for object in "$bin/SafeTensors.build/StrictJSONParser.swift.o" "$bin/SafeTensors.build/SafeTensorsHeader.swift.o" \
    "$bin/LoRA.build/AdapterConfig+JSON.swift.o"; do
    sections="$(objdump -h "$object" | grep -c __sancov_cntrs || true)"
    if [ "$sections" -eq 0 ]; then
        echo "error: $object has no __sancov_cntrs section: the parsers are not instrumented for coverage" >&2
        exit 1
    fi
    echo "instrumented: $(basename "$object"): $sections __sancov_cntrs sections" >&2
done

work=".fuzz/$target"
mkdir -p "$work/corpus" "$work/seeds" "$work/crashes"
if [ "$target" = config ]; then
    find Tests/Fixtures -name adapter_config.json | while read -r f; do cp "$f" "$work/seeds/$(echo "$f" | tr / _)"; done
else
    find Tests/Fixtures -name '*.safetensors' -size -64k | while read -r f; do cp "$f" "$work/seeds/$(echo "$f" | tr / _)"; done
fi
# New inputs go to the first directory (corpus); seeds are read only.
# The Swift runtime's crash backtracer clashes with ASan (spurious reports); libFuzzer prints the stack itself.
SWIFT_BACKTRACE=enable=no QUIVER_FUZZ_TARGET="$target" nice "$bin/QuiverFuzz" "$work/corpus" "$work/seeds" \
    -runs="$runs" -max_len=4096 -artifact_prefix="$work/crashes/" -print_final_stats=1 "$@" 2>&1 | tee "$work/log"
